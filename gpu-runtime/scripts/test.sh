#!/usr/bin/env bash
# Builds the venv offline if needed, then runs the CPU test suite (exit code = pytest's).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-venv.sh
# One intra-op thread per process: the suite runs several torch processes at once (server, torchrun
# ranks) on a 2-core machine shared with other workspaces' tests, where spinning OpenMP threads that
# get preempted slow tiny-model steps down many times over.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
exec .venv/bin/python -m pytest -q "$@"
