#!/usr/bin/env bash
# Full demo path on CPU: make-demo-data -> make-tiny-model -> evaluate untrained -> train -> evaluate trained
# -> serve one request of each kind (scripts/demo-serve.sh).
# Usage: bash scripts/demo.sh [OUT_DIR] [MAX_STEPS]  (prints per-task exact match before and after)
set -euo pipefail
cd "$(dirname "$0")/.."
# One torch thread: on a busy shared 2-core machine, two spinning OpenMP threads slowed a step ~10-50x.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
OUT="$(realpath -m "${1:-demo-out}")"
STEPS="${2:-}"  # default: the demo recipe's (loraplane_runtime.demo_data.DEMO_TRAINING)
RT=.venv/bin/loraplane-runtime
mkdir -p "$OUT"
$RT make-demo-data --output "$OUT/data" >/dev/null
$RT make-tiny-model --output "$OUT/model" >/dev/null 2>&1

job() {  # job STAGE OUTPUT_DIR [ADAPTER_DIR]: the demo recipe, as the seeded demo pipeline runs it
  .venv/bin/python - "$@" <<PY
import json, sys
from loraplane_runtime.demo_data import DEMO_EVAL, DEMO_TRAINING
stage, out, adapter = sys.argv[1], sys.argv[2], (sys.argv[3] if len(sys.argv) > 3 else None)
training = {**DEMO_TRAINING, "logEverySteps": 50, "checkpointEverySteps": 400}
if "$STEPS":
    training["maxSteps"] = int("$STEPS")
print(json.dumps({"runId": "demo", "stage": stage,
                  "paths": {"baseModel": "$OUT/model", "dataDir": "$OUT/data", "outputDir": out, "adapterDir": adapter},
                  "spec": {"training": training, "eval": DEMO_EVAL}}))
PY
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
.venv/bin/python - "$OUT/eval-untrained/eval_report.json" "$OUT/eval-trained/eval_report.json" <<'PY'
import json, sys
b, a = (json.load(open(p, encoding="utf-8")) for p in sys.argv[1:3])
rows = [("all", b["metrics"], a["metrics"], a["numSamples"])]
rows += [(t, b["metricsByTask"][t], m, m["numSamples"]) for t, m in a["metricsByTask"].items()]
print(f"{'task':<11} {'rows':>4}  " + "  ".join(f"{k:<14}" for k in ("exact_match", "rouge_l", "bleu")))
for name, before, after, n in rows:
    print(f"{name:<11} {n:>4}  " + "  ".join(f"{before[k]:.3f} → {after[k]:.3f}" for k in ("exact_match", "rouge_l", "bleu")))
PY
bash scripts/demo-serve.sh "$OUT"
