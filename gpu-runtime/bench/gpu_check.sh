#!/usr/bin/env bash
# GPU readiness check (issue 13): training throughput / MFU / peak memory for the seed article's layout, our
# dynamic padding, our packing and TRL padding-free (when installed), plus eval generation throughput, on a
# ~0.5B Qwen2-shaped model built from a config. Finishes in a few minutes on one H100/H200.
#   bash bench/gpu_check.sh            # real check (uses the GPU when there is one)
#   DEVICE=tiny bash bench/gpu_check.sh  # or --tiny: 2-layer toy model, seconds on a CPU (what CI runs)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-}"
if [ -z "$PY" ]; then if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi; fi
args=("$@")
if [ "${DEVICE:-}" = "tiny" ] || [ "${DEVICE:-}" = "cpu" ]; then args=(--tiny "${args[@]}"); fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec timeout "${GPU_CHECK_TIMEOUT:-480}" "$PY" bench/gpu_check.py "${args[@]}"
