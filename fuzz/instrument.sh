#!/bin/sh
# RUSTC_WRAPPER for the fuzz build: adds the SanitizerCoverage instrumentation libFuzzer feeds on
# (the flags `cargo fuzz build --sanitizer none` passes, all stable rustc options) to this crate
# and the fuzz targets only. Dependencies stay exactly as the main release build compiled them,
# so they are reused instead of being compiled again with coverage (minutes on CI's 2 cores); the
# fuzzer then steers by the coverage of our own code, which is what the targets are about.
rustc=$1
shift
case "${CARGO_PKG_NAME:-}" in
healthimaging-mcp-server | healthimaging-mcp-fuzz)
  case " $* " in
  *" --crate-name build_script_"*) ;;
  *)
    exec "$rustc" "$@" --cfg fuzzing \
      -Cpasses=sancov-module \
      -Cllvm-args=-sanitizer-coverage-level=4 \
      -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
      -Cllvm-args=-sanitizer-coverage-pc-table \
      -Cllvm-args=-sanitizer-coverage-trace-compares \
      -Cllvm-args=-sanitizer-coverage-stack-depth \
      -Cllvm-args=-simplifycfg-branch-fold-threshold=0
    ;;
  esac
  ;;
esac
exec "$rustc" "$@"
