#!/usr/bin/env bash
# Builds the portable wheel: one abi3 wheel (every CPython >= 3.10) for manylinux2014 x86_64,
# linked by zig against glibc 2.17 so that it installs on any Linux of the last decade without
# Rust. CI, the Dockerfile's build stage and developers all run this script.
#   bash scripts/build_wheel.sh [OUT_DIR]      (default: dist/; prints the wheel's path last)
# Needs Rust and Python >= 3.10; maturin and zig come from PyPI into the active Python.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-dist}
python=${PYTHON:-python3}

"$python" -m pip install -q "maturin>=1.9,<2" "ziglang>=0.13,<0.18"
mkdir -p "$out"
rm -f "$out"/awslabs_healthimaging_mcp_server-*.whl
start=$(date +%s)
# --target names the host triple explicitly so the artifacts always land in
# target/x86_64-unknown-linux-gnu/release, apart from a developer's native target/release.
"$python" -m maturin build --release --zig --compatibility manylinux2014 \
  --target x86_64-unknown-linux-gnu --out "$out" >&2
end=$(date +%s)
wheel=$(ls "$out"/awslabs_healthimaging_mcp_server-*-abi3-*.whl)
echo "built $(basename "$wheel"): $((end - start)) s, $(du -k "$wheel" | cut -f1) KiB" >&2
echo "$wheel"
