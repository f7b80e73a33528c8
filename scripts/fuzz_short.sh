#!/usr/bin/env bash
# Short fuzz run of every cargo-fuzz target in fuzz/ (nightly + cargo-fuzz needed): each target
# for N seconds (first argument, default 20) from the seed corpus in fuzz/corpus/<target>.
# Fails on the first crash; libFuzzer leaves the crashing input in fuzz/artifacts/<target>/.
# New corpus entries go to a scratch folder, so the corpus in the repository stays small.
set -euo pipefail

seconds="${1:-20}"
cd "$(dirname "$0")/../fuzz"
targets=(parse_part10 metadata decode_frame sigv4)

# One build of all targets (release with debug assertions: overflow checks on). No sanitizer:
# the crate is safe Rust; panics and aborts are what a run looks for.
cargo +nightly fuzz build --sanitizer none --debug-assertions

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
for target in "${targets[@]}"; do
    mkdir -p "$scratch/$target"
    echo "fuzzing $target for ${seconds}s"
    cargo +nightly fuzz run --sanitizer none --debug-assertions "$target" "$scratch/$target" "corpus/$target" -- \
        -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -timeout=10 -print_final_stats=1
done
echo "fuzz_short: no crash in ${#targets[@]} targets (${seconds}s each)"
