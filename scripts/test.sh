#!/usr/bin/env bash
# Every test: builds the package into .venv, then runs the Rust unit and integration tests
# (real aws-sdk-medicalimaging against the local HealthImaging) and the Python suite (boto3,
# the CLI). Works on a fresh machine with Rust and Python >= 3.10.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q -e ".[test]"

# Release, with the extension's features: the same dependency graph the package install just
# compiled, so it is built once (only pyo3 and this crate are compiled again for the tests).
cargo test --release --all-targets --features python
python -m pytest
