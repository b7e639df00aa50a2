#!/usr/bin/env bash
# Refresh requirements.lock: resolve sertext's whole dependency set (with the dev extra) afresh in
# an empty virtual environment and record the exact version of every package it installed.
#
# usage: tools/lock.sh [PYTHON]        (default python3)
#
# The README's install and .ci/run use the lock as pip constraints (pip install -c requirements.lock
# -e .), so every install gets the versions CI tested; a package the lock names but a platform does
# not need (the CUDA libraries on macOS, say) is simply not installed there.  After refreshing, run
# the tests on a fresh install before committing the new lock.
set -euo pipefail
cd "$(dirname "$0")/.."
python="${1:-python3}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --upgrade pip
"$work/venv/bin/python" -m pip install --quiet -e ".[dev]"
{
  echo "# The dependency set CI tests sertext with, from a clean resolve by tools/lock.sh on $(date -u +%Y-%m-%d)"
  echo "# ($("$work/venv/bin/python" -c 'import platform; print(f"Python {platform.python_version()}, {platform.system()} {platform.machine()}")')). Install with:"
  echo "#   pip install -c requirements.lock -e .          (add \".[dev]\" for the tests)"
  "$work/venv/bin/python" -m pip freeze --all --exclude-editable --exclude pip
} > requirements.lock
echo "wrote requirements.lock ($(grep -vc '^#' requirements.lock) packages)"
