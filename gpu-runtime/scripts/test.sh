#!/usr/bin/env bash
# Builds the venv offline if needed, then runs the CPU test suite (exit code = pytest's).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-venv.sh
# 2 cores: keep torch from oversubscribing when tests run subprocesses.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
exec .venv/bin/python -m pytest -q "$@"
