#!/usr/bin/env bash
# Serves the demo's base model + trained adapter and sends one request of each kind, then stops.
# Usage: bash scripts/demo-serve.sh [OUT_DIR] [PORT]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="$(realpath -m "${1:-demo-out}")"
PORT="${2:-8011}"
URL="http://127.0.0.1:$PORT"
.venv/bin/loraplane-runtime serve --model "$OUT/model" --served-model-name tiny \
  --adapter "demo=$OUT/train/adapter" --port "$PORT" 2>"$OUT/serve.log" &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 120); do curl -sf "$URL/health" >/dev/null && break; sleep 0.5; done
ask() {  # ask MODEL CONTENT
  curl -s "$URL/v1/chat/completions" -H 'Content-Type: application/json' \
    -d "{\"model\":\"$1\",\"messages\":[{\"role\":\"user\",\"content\":\"$2\"}],\"max_tokens\":16,\"temperature\":0}"
  echo
}
echo "models: $(curl -s "$URL/v1/models")"
echo "base    汉字:    $(ask tiny '写成汉字：\n\n2026')"
echo "adapter 汉字:    $(ask demo '写成汉字：\n\n2026')"
echo "adapter 数字:    $(ask demo '写成数字：\n\n二〇二六')"
echo "adapter upper:   $(ask demo 'Upper:\n\ncanary')"
echo "adapter stream:"
curl -sN "$URL/v1/completions" -H 'Content-Type: application/json' \
  -d '{"model":"demo","prompt":"<|user|>问候：\n\nAda\n<|assistant|>","max_tokens":12,"temperature":0,"stream":true}'
curl -s "$URL/metrics" | grep -E '^vllm:(generation_tokens_total|e2e_request_latency_seconds_count)'
