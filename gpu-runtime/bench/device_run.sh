#!/usr/bin/env bash
# Every GPU check of issue 13 in one run, <= 8 minutes on one H100/H200, each part under its own `timeout` and a
# shared deadline, a failed part never stopping the next:
#   1. environment (GPU, driver, Python, torch/transformers/peft versions)
#   2. TRL wheels: unpack bench/.wheelhouse (bench/fetch_wheels.sh; carried, git-ignored) into a private folder
#   3. gpu_check.py: seed article pad-512 vs our dynamic padding vs packing vs TRL padding-free; eval generation
#   4. gc_bench.py: gradient checkpointing on/off, peak memory and tokens/s, Qwen2.5 0.5B/1.5B/3B shapes
#   5. fsdp_smoke.py: the runtime's train under torchrun (one process per GPU), FSDP meta-init + broadcast path
# Everything lands in $OUT (default bench/out/device-run): summary.txt (all tables), gpu_check.json,
# gc_bench.json and one log per part (8 files: the device tool returns at most 8). summary.txt is also printed last.
#   OUT=/some/dir bash gpu-runtime/bench/device_run.sh        # on the GPU machine (python3 = the image's)
#   DEVICE=tiny bash gpu-runtime/bench/device_run.sh          # the same parts with toy sizes, on a CPU, ~2 min
# WHEELHOUSE overrides bench/.wheelhouse (tests point it at an empty folder). EXTRA_PYTHONPATH is added for
# part 3 only (tests point it at a folder holding what the GPU image has and the dev venv lacks: pyarrow, pandas...).
set -uo pipefail
cd "$(dirname "$0")/.."
RUNTIME="$PWD"
OUT="${OUT:-$RUNTIME/bench/out/device-run}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
PY="${PYTHON:-}"
if [ -z "$PY" ]; then if [ -x .venv/bin/python ] && [ "${DEVICE:-}" = "tiny" ]; then PY=.venv/bin/python; else PY=python3; fi; fi
TINY=()
[ "${DEVICE:-}" = "tiny" ] && TINY=(--tiny)
# The limits are sized for one H100/H200; tiny mode runs on a (possibly loaded) CPU where start-up dominates.
SCALE=1
[ "${DEVICE:-}" = "tiny" ] && SCALE=4
DEADLINE_S="${DEVICE_RUN_DEADLINE_S:-$(( 470 * SCALE ))}"
export PYTHONPATH="$RUNTIME${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false \
  HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_VERBOSITY=error
START=$(date +%s)
SUMMARY="$OUT/summary.txt"
: > "$SUMMARY"

note() { echo "[$(date -u +%H:%M:%S) +$(( $(date +%s) - START ))s] $*" | tee -a "$SUMMARY"; }

# part NAME LIMIT_S CMD...: runs CMD with stdout+stderr in $OUT/NAME.log, under min(LIMIT_S, time left).
part() {
  local name="$1" limit=$(( $2 * SCALE )); shift 2
  local left=$(( DEADLINE_S - ($(date +%s) - START) ))
  if [ "$left" -lt 15 ]; then note "SKIP $name: the ${DEADLINE_S} s deadline is reached"; echo "skipped: deadline" > "$OUT/$name.log"; return 0; fi
  [ "$limit" -gt "$left" ] && limit="$left"
  note "start $name (timeout ${limit} s)"
  timeout -k 10 "$limit" "$@" > "$OUT/$name.log" 2>&1
  local rc=$?
  if [ "$rc" -eq 0 ]; then note "done  $name"; else
    [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] && note "FAIL  $name: timed out after ${limit} s" || note "FAIL  $name: exit $rc"
    tail -n 15 "$OUT/$name.log" | sed 's/^/    /' | tee -a "$SUMMARY"
  fi
  return 0
}

note "device_run: ${DEVICE:-gpu} mode, python $PY, deadline ${DEADLINE_S} s, output $OUT"

part env 60 bash -c "
  nvidia-smi 2>&1 || echo 'nvidia-smi: not available'
  '$PY' -c 'import sys, torch, transformers, peft; print(\"python\", sys.version.split()[0]); print(\"torch\", torch.__version__, \"cuda\", torch.version.cuda, \"gpus\", torch.cuda.device_count(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else \"-\"); print(\"transformers\", transformers.__version__, \"peft\", peft.__version__)'
  [ '${DEVICE:-}' = tiny ] || '$PY' -m pip list 2>/dev/null | grep -i -E '^(torch|transformers|peft|accelerate|pyarrow|pandas|datasets|trl|fsspec|xxhash|dill|multiprocess) ' || true"
grep -E "^(python|torch|transformers) " "$OUT/env.log" | sed 's/^/    /' | tee -a "$SUMMARY"

# TRL and datasets (+ dill, multiprocess) unpacked, not pip-installed: all are pure Python and the mirror's
# multiprocess wheel is tagged py311, which pip refuses on 3.12; the unpacked .dist-info keeps their versions visible.
TRL_SITE="${TMPDIR:-/tmp}/lp-device-run-trl"
GPU_CHECK_PATH="$PYTHONPATH"
WHEELHOUSE="${WHEELHOUSE:-bench/.wheelhouse}"
if ls "$WHEELHOUSE"/*.whl > /dev/null 2>&1; then
  part trl_wheels 60 bash -c "rm -rf '$TRL_SITE' && mkdir -p '$TRL_SITE' && for w in '$WHEELHOUSE'/*.whl; do echo \"unpack \$w\"; '$PY' -m zipfile -e \"\$w\" '$TRL_SITE' || exit 1; done
    PYTHONPATH='$TRL_SITE${EXTRA_PYTHONPATH:+:$EXTRA_PYTHONPATH}' '$PY' -c 'import trl, datasets; print(\"trl\", trl.__version__, \"datasets\", datasets.__version__)'"
  GPU_CHECK_PATH="$TRL_SITE:$PYTHONPATH"
  tail -n 1 "$OUT/trl_wheels.log" | sed 's/^/    /' | tee -a "$SUMMARY"
else
  note "no wheels in $WHEELHOUSE (run bench/fetch_wheels.sh and carry it): TRL (d) will print 'skipped: not installed'"
fi
[ -n "${EXTRA_PYTHONPATH:-}" ] && GPU_CHECK_PATH="$GPU_CHECK_PATH:$EXTRA_PYTHONPATH"

part gpu_check 210 env PYTHONPATH="$GPU_CHECK_PATH" "$PY" bench/gpu_check.py "${TINY[@]}" --json "$OUT/gpu_check.json"
part gc_bench 170 "$PY" bench/gc_bench.py "${TINY[@]}" --budget-s 110 --json "$OUT/gc_bench.json"
part fsdp_smoke 80 "$PY" bench/fsdp_smoke.py "${TINY[@]}" --timeout $(( 70 * SCALE ))

{
  echo
  echo "== gpu_check (bench/gpu_check.py)"
  grep -E "^(device:|mode |[a-d]\) |eval generation:)" "$OUT/gpu_check.log" || echo "(no table: see gpu_check.log)"
  echo
  echo "== gradient checkpointing (bench/gc_bench.py)"
  grep -E "^(device:|size |[0-9t][a-z0-9.-]* +[0-9.]+B|[0-9a-z.-]+: checkpointing costs|[0-9a-z.-]+ +skipped|peaks for )" "$OUT/gc_bench.log" \
    || echo "(no table: see gc_bench.log)"
  echo
  echo "== FSDP meta-init smoke (bench/fsdp_smoke.py)"
  grep -E "^fsdp smoke: (ok|FAILED)" "$OUT/fsdp_smoke.log" || echo "(no result line: see fsdp_smoke.log)"
  echo
} >> "$SUMMARY"
note "device_run finished"
echo "===== summary ($SUMMARY) ====="
cat "$SUMMARY"
