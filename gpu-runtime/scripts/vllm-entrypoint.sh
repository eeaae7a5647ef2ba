#!/usr/bin/env bash
# vLLM entrypoint for Loraplane deployments.
#   MODEL_DIR            base model directory (mounted), required
#   SERVED_MODEL_NAME    name of the base model in /v1/models (default: basename of MODEL_DIR)
#   ADAPTERS_DIR         optional mounted dir; each subdir with adapter_config.json is served as a LoRA named after it
#   MAX_LORAS, MAX_LORA_RANK, MAX_CPU_LORAS, PORT (defaults 4, 64, 16, 8000)
# Adapters can also be added/removed at runtime via /v1/load_lora_adapter and /v1/unload_lora_adapter
# (VLLM_ALLOW_RUNTIME_LORA_UPDATING=True is set in the image). Extra args are passed to vLLM.
#   VLLM_API_KEY         set it from a Secret: vLLM then requires "Authorization: Bearer <key>" on every /v1 route,
#                        including the adapter load/unload endpoints (vLLM reads this variable itself, so the key
#                        never appears in the pod's command line). Without it vLLM accepts anyone who reaches it.
set -euo pipefail
: "${MODEL_DIR:?MODEL_DIR is required}"
NAME="${SERVED_MODEL_NAME:-$(basename "$MODEL_DIR")}"
ARGS=(--model "$MODEL_DIR" --served-model-name "$NAME" --port "${PORT:-8000}" --host 0.0.0.0
      --enable-lora --max-loras "${MAX_LORAS:-4}" --max-lora-rank "${MAX_LORA_RANK:-64}"
      --max-cpu-loras "${MAX_CPU_LORAS:-16}")
if [ -n "${ADAPTERS_DIR:-}" ] && [ -d "$ADAPTERS_DIR" ]; then
  MODULES=()
  for d in "$ADAPTERS_DIR"/*/; do
    [ -f "$d/adapter_config.json" ] && MODULES+=("$(basename "$d")=${d%/}")
  done
  [ ${#MODULES[@]} -gt 0 ] && ARGS+=(--lora-modules "${MODULES[@]}")
fi
exec python3 -m vllm.entrypoints.openai.api_server "${ARGS[@]}" "$@"
