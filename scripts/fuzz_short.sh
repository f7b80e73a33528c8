#!/usr/bin/env bash
# A short fuzzing run of every target in fuzz/ (CI runs it; developers too):
#   bash scripts/fuzz_short.sh [SECONDS_PER_TARGET] [TARGET...]     (default: 20 s, every target)
# Stable rustc only: no nightly, no cargo-fuzz. The targets are built in release into the main
# target/ folder with the instrumentation added to this crate alone (fuzz/instrument.sh), so the
# dependencies `cargo test --release` compiled are reused and a second run rebuilds only what
# changed. Each target starts from its seed corpus in fuzz/corpus/<target> (read only; what the
# fuzzer finds goes to target/fuzz/corpus/<target>). A crash, a panic, a timeout or running out of
# memory fails the run; the input that did it is kept under target/fuzz/artifacts/<target>/ and
# its path is printed. To replay one: target/release/<target> <that file>.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
seconds=${1:-20}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(parse_part10 metadata decode_frame sigv4 multipart)
fi

# The same dependency versions as the main build (cargo adds the few fuzz-only packages).
cp Cargo.lock fuzz/Cargo.lock
start=$(date +%s)
(cd fuzz && RUSTC_WRAPPER="$root/fuzz/instrument.sh" cargo build --release --bins \
  --target-dir "$root/target")
echo "fuzz targets built: $(($(date +%s) - start)) s"

failed=()
for t in "${targets[@]}"; do
  new="target/fuzz/corpus/$t"
  artifacts="target/fuzz/artifacts/$t/"
  mkdir -p "$new" "$artifacts"
  log="target/fuzz/$t.log"
  # -timeout: one input may take at most 60 s (a hang is a failure too; a frame up to
  # MAX_DECODE_SAMPLES legitimately takes seconds on a busy machine); -rss_limit_mb: 2 GiB.
  if "target/release/$t" -max_total_time="$seconds" -timeout=60 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$artifacts" "$new" "fuzz/corpus/$t" >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    echo "fuzz $t: ok, $runs runs in ${seconds} s, $cov"
  else
    echo "fuzz $t: FAILED (log: $log)"
    tail -n 40 "$log"
    grep -h 'Test unit written to' "$log" || true
    failed+=("$t")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: failing targets: ${failed[*]}; inputs under target/fuzz/artifacts/" >&2
  exit 1
fi
