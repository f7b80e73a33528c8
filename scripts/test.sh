#!/usr/bin/env bash
# Every test: builds the package into .venv, then runs the Rust unit and integration tests
# (real aws-sdk-medicalimaging against the local HealthImaging) and the Python suite (boto3,
# the CLI). Works on a fresh machine with Rust and Python >= 3.10.
#   TEST_WHEEL=dist/<wheel> bash scripts/test.sh   tests that built wheel instead of an editable
#                                                  build of the checkout (CI: the portable wheel)
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate
python -m pip install -q --upgrade pip
if [ -n "${TEST_WHEEL:-}" ]; then
  python -m pip install -q --force-reinstall --no-deps "$TEST_WHEEL"
  python -m pip install -q "$TEST_WHEEL[test]"
else
  python -m pip install -q -e ".[test]"
fi

# Release, with the extension's features: the same dependency graph the editable install just
# compiled, so it is built once (only pyo3 and this crate are compiled again for the tests).
cargo test --release --all-targets --features python
# Two workers (PYTEST_WORKERS to change): most tests wait on servers, throttles and retries, not
# on the CPU, so two run side by side in well under the time of one after the other.
# loadfile: each module runs on one worker (the fault suite's last test sums the faults its
# module's tests counted on their shared local HealthImaging).
python -m pytest -n "${PYTEST_WORKERS:-2}" --dist loadfile
