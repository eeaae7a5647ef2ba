#!/usr/bin/env bash
# Full demo path on CPU: make-demo-data -> make-tiny-model -> evaluate untrained -> train -> evaluate trained
# -> serve one request of each kind (scripts/demo-serve.sh).
# Usage: bash scripts/demo.sh [OUT_DIR] [MAX_STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
# One torch thread: on a busy shared 2-core machine, two spinning OpenMP threads slowed a step ~10-50x.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
OUT="$(realpath -m "${1:-demo-out}")"
STEPS="${2:-1500}"
RT=.venv/bin/loraplane-runtime
mkdir -p "$OUT"
$RT make-demo-data --output "$OUT/data" >/dev/null
$RT make-tiny-model --output "$OUT/model" >/dev/null 2>&1

job() {  # job STAGE OUTPUT_DIR [ADAPTER_DIR]
  local adapter="null"
  [ -n "${3:-}" ] && adapter="\"$3\""
  cat <<JSON
{"runId": "demo", "stage": "$1",
 "paths": {"baseModel": "$OUT/model", "dataDir": "$OUT/data", "outputDir": "$2", "adapterDir": $adapter},
 "spec": {"training": {"learningRate": 1e-3, "batchSize": 32, "maxSteps": $STEPS, "warmupRatio": 0.03,
                       "scheduler": "cosine", "logEverySteps": 50, "checkpointEverySteps": 500,
                       "lora": {"r": 16, "alpha": 32, "dropout": 0.05}},
          "eval": {"split": "test", "maxNewTokens": 32, "batchSize": 50}}}
JSON
}
job eval "$OUT/eval-untrained" > "$OUT/eval-untrained.json"
job train "$OUT/train" > "$OUT/train.json"
job eval "$OUT/eval-trained" "$OUT/train/adapter" > "$OUT/eval-trained.json"

$RT evaluate --config "$OUT/eval-untrained.json" | tail -1 > "$OUT/untrained.result.json"
start=$(date +%s)
$RT train --config "$OUT/train.json" | tail -1 > "$OUT/train.result.json"
echo "train wall seconds: $(( $(date +%s) - start ))" >&2
$RT evaluate --config "$OUT/eval-trained.json" | tail -1 > "$OUT/trained.result.json"
echo "untrained: $(cat "$OUT/untrained.result.json")"
echo "train:     $(cat "$OUT/train.result.json")"
echo "trained:   $(cat "$OUT/trained.result.json")"
bash scripts/demo-serve.sh "$OUT"
