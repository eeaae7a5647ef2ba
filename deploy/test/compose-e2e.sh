#!/usr/bin/env bash
# End to end through docker-compose.yml with the images built on this machine (not part of `npm test`: it builds
# images and trains a model; README "Deploying" has its timing):
#   1. builds the base and product images when missing (REBUILD=1 rebuilds the product images),
#   2. `docker-compose up -d` with generated secrets and free loopback ports, waits until everything is healthy,
#   3. an API token for the first admin (the bootstrap service made the admin; the token comes from the `loraplane`
#      CLI inside the web container),
#   4. applies a small pipeline to the demo project and triggers it over the REST API,
#   5. waits for train and eval (they run inside the workers container) and for the deployment to go live,
#   6. sends a chat completion through the gateway container and checks the answer,
# printing each step's time, then `docker-compose down -v` (KEEP=1 leaves the stack running for a look).
# Needs: a Docker engine, docker-compose, curl, jq; root for the base images (debootstrap).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
for tool in docker docker-compose curl jq; do
  command -v "$tool" >/dev/null || { echo "compose-e2e: $tool is required" >&2; exit 2; }
done
export COMPOSE_PROJECT_NAME="${COMPOSE_PROJECT_NAME:-loraplane-e2e}"
export LORAPLANE_IMAGE_TAG="${LORAPLANE_IMAGE_TAG:-local}"
# Creating a container copies its whole image with the vfs storage driver: minutes on a loaded machine, past
# docker-compose's default 60 s API timeout.
export COMPOSE_HTTP_TIMEOUT="${COMPOSE_HTTP_TIMEOUT:-600}"
TRAIN_STEPS="${TRAIN_STEPS:-60}"
RUN_TIMEOUT_S="${RUN_TIMEOUT_S:-1800}"

T0=$(date +%s)
T_STEP=$T0
STEP=""
step() {
  local now; now=$(date +%s)
  [ -z "$STEP" ] || printf '   done in %ss\n' "$((now - T_STEP))"
  STEP="$1"; T_STEP=$now
  printf '[%5ss] %s\n' "$((now - T0))" "$1"
}
fail() { echo "compose-e2e: FAILED at \"$STEP\": $*" >&2; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Every service is on the host network: ports that nothing on this machine uses (the machine's own Postgres and
# Redis keep 5432/6379).
export POSTGRES_PORT="${POSTGRES_PORT:-$(free_port)}" REDIS_PORT="${REDIS_PORT:-$(free_port)}"
export WEB_PORT="${WEB_PORT:-$(free_port)}" GATEWAY_PORT="${GATEWAY_PORT:-$(free_port)}"
export WORKER_HEALTH_PORT="${WORKER_HEALTH_PORT:-$(free_port)}"
# Fresh secrets for this stack; exported variables take precedence over a .env file.
export POSTGRES_PASSWORD="$(openssl rand -hex 24)" REDIS_PASSWORD="$(openssl rand -hex 24)"
export NEXTAUTH_SECRET="$(openssl rand -base64 32)" LORAPLANE_SECRET_KEY="$(openssl rand -base64 32)"
WEB="http://127.0.0.1:$WEB_PORT"
GATEWAY="http://127.0.0.1:$GATEWAY_PORT"
compose() { docker-compose -f "$ROOT/docker-compose.yml" "$@"; }

finish() {
  local rc=$?
  trap - EXIT
  if [ $rc -ne 0 ]; then
    echo "---- last log lines of each service ----" >&2
    compose logs --no-color --tail=60 >&2 2>/dev/null || true
  fi
  if [ "${KEEP:-0}" = 1 ]; then
    echo "KEEP=1: stack left running (web $WEB, gateway $GATEWAY); stop it with: COMPOSE_PROJECT_NAME=$COMPOSE_PROJECT_NAME docker-compose down -v"
  else
    step "docker-compose down -v"
    compose down -v --remove-orphans >/dev/null 2>&1 || true
    step "end"
  fi
  printf 'compose-e2e: %s after %ss\n' "$([ $rc -eq 0 ] && echo PASSED || echo FAILED)" "$(($(date +%s) - T0))"
  exit $rc
}

step "images (build-base.sh + build.sh when missing; REBUILD=${REBUILD:-0})"
need_base=0
for image in loraplane/debian:bookworm loraplane/base-node:bookworm loraplane/base-python:bookworm loraplane/postgres:15 loraplane/redis:7; do
  docker image inspect "$image" >/dev/null 2>&1 || need_base=1
done
[ $need_base = 0 ] || deploy/docker/build-base.sh
missing=()
for image in web workers gateway; do
  if [ "${REBUILD:-0}" = 1 ] || ! docker image inspect "loraplane/$image:$LORAPLANE_IMAGE_TAG" >/dev/null 2>&1; then missing+=("$image"); fi
done
[ ${#missing[@]} = 0 ] || IMAGE_TAG="$LORAPLANE_IMAGE_TAG" deploy/docker/build.sh "${missing[@]}"
docker image ls --format '   {{.Repository}}:{{.Tag}} {{.Size}}' | grep -E "loraplane/(web|workers|gateway):$LORAPLANE_IMAGE_TAG" || true

trap finish EXIT
trap 'exit 143' TERM INT
# A stack left by an interrupted run would keep its Postgres volume (initialised with another password).
compose down -v --remove-orphans >/dev/null 2>&1 || true
step "docker-compose up -d (postgres :$POSTGRES_PORT, redis :$REDIS_PORT, web :$WEB_PORT, gateway :$GATEWAY_PORT, workers :$WORKER_HEALTH_PORT)"
compose up -d --no-build

step "wait for web (migrations applied), bootstrap, workers and gateway to be healthy"
container() { compose ps -q "$1"; }
deadline=$(( $(date +%s) + 600 ))
while :; do
  states=""
  for service in postgres redis web workers gateway; do
    id="$(container "$service")"
    states+="$service=$([ -n "$id" ] && docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$id" || echo none) "
  done
  boot="$(container bootstrap)"
  boot_state="$([ -n "$boot" ] && docker inspect -f '{{.State.Status}}/{{.State.ExitCode}}' "$boot" || echo none)"
  [ "$boot_state" != "exited/0" ] && [ "${boot_state#exited/}" != "$boot_state" ] && fail "bootstrap $boot_state"
  case "$states" in *unhealthy*) fail "$states" ;; esac
  [ "$(grep -o healthy <<<"$states" | wc -l)" = 5 ] && [ "$boot_state" = exited/0 ] && break
  [ "$(date +%s)" -lt "$deadline" ] || fail "not healthy after 600 s: $states bootstrap=$boot_state"
  sleep 3
done
echo "   $states bootstrap=$boot_state"
curl -fsS "$WEB/api/ready" >/dev/null || fail "web /api/ready"
curl -fsS "$GATEWAY/health" >/dev/null || fail "gateway /health"

step "API token for the first admin (loraplane CLI inside the web container)"
ADMIN_EMAIL="$(compose logs --no-color bootstrap | sed -n 's/.*first admin: \([^ ]*\) .*/\1/p' | head -1)"
[ -n "$ADMIN_EMAIL" ] || fail "bootstrap did not print the first admin"
TOKEN="$(compose exec -T web node apps/web/bin/loraplane.mjs token create --email "$ADMIN_EMAIL" --name compose-e2e \
  --scopes runs:read,runs:write,models:read,deployments:read,inference:invoke --project demo --expires-days 1 | tail -1 | tr -d '\r')"
[ -n "$TOKEN" ] || fail "no token"
echo "   token for $ADMIN_EMAIL (scopes runs:read,runs:write,models:read,deployments:read,inference:invoke, project demo)"

api() { # method path [json-body]
  local out status
  out="$(curl -sS -X "$1" "$WEB$2" -H "authorization: Bearer $TOKEN" ${3:+-H 'content-type: application/json' --data "$3"} -w '\n%{http_code}')"
  status="${out##*$'\n'}"
  [[ "$status" == 2* ]] || fail "$1 $2 → HTTP $status: ${out%$'\n'*}"
  printf '%s' "${out%$'\n'*}"
}

step "apply the compose-e2e pipeline ($TRAIN_STEPS training steps) to the demo project over the REST API"
PROJECT_ID="$(api GET /api/v1/projects | jq -r '(.items // .)[] | select(.slug == "demo") | .id')"
[ -n "$PROJECT_ID" ] || fail "no demo project"
SPEC="$(jq -n --argjson steps "$TRAIN_STEPS" '{
  apiVersion: "loraplane/v1", name: "compose-e2e",
  description: "docker-compose end-to-end: a short LoRA fine-tune of the demo model, evaluated, deployed to dev.",
  model: { name: "compose-assistant", baseModel: "/data/models/tiny-qwen2" },
  dataset: { name: "demo-instructions", version: "v1", format: "alpaca" },
  training: { learningRate: 0.002, batchSize: 16, maxSteps: $steps, maxSeqLength: 64, logEverySteps: 10,
              checkpointEverySteps: $steps, lora: { r: 8, alpha: 16, dropout: 0.05 } },
  resources: { gpus: 0, cpu: "2", memory: "4Gi" },
  eval: { split: "test", maxSamples: 24, maxNewTokens: 12, batchSize: 24, metrics: ["exact_match", "rouge_l", "safety"],
          thresholds: [{ metric: "safety_pass_rate", comparator: ">=", value: 0.5 }] },
  deploy: { endpointName: "compose-assistant", environments: ["dev"], strategy: "canary", autoPromote: true,
            canary: { steps: [10000], analysisWindowSeconds: 10, minRequests: 3 },
            slo: { p99LatencyMs: 60000, ttftP95Ms: 60000, maxErrorRate: 0.5 } },
  timeouts: { trainSeconds: 1500, evalSeconds: 900 } }')"
EXISTING="$(api GET "/api/v1/projects/$PROJECT_ID/pipelines" | jq -r '(.items // .)[] | select(.name == "compose-e2e") | .id')"
if [ -n "$EXISTING" ]; then PIPELINE_ID="$EXISTING"; api PATCH "/api/v1/pipelines/$PIPELINE_ID" "{\"spec\": $SPEC}" >/dev/null
else PIPELINE_ID="$(api POST "/api/v1/projects/$PROJECT_ID/pipelines" "{\"spec\": $SPEC}" | jq -r .id)"; fi
echo "   pipeline $PIPELINE_ID"

step "trigger the pipeline over the REST API"
RUN_ID="$(api POST "/api/v1/pipelines/$PIPELINE_ID/runs" '{}' | jq -r .run.id)"
[ -n "$RUN_ID" ] && [ "$RUN_ID" != null ] || fail "no run id"
echo "   run $RUN_ID"

step "train, eval, gate, register and deploy (inside the workers container)"
deadline=$(( $(date +%s) + RUN_TIMEOUT_S ))
last=""
while :; do
  RUN="$(api GET "/api/v1/runs/$RUN_ID")"
  line="$(jq -r '"\(.status): " + ([.stages[] | "\(.stage) \(.status)" + (if .status == "running" and .progress != null then " \((.progress * 100) | floor)%" else "" end)] | join(", "))' <<<"$RUN")"
  if [ "$line" != "$last" ]; then printf '   [%5ss] %s\n' "$(($(date +%s) - T0))" "$line"; last="$line"; fi
  status="$(jq -r .status <<<"$RUN")"
  # The run's last stage (rollout) follows the deployment, which needs traffic: the next step sends it.
  [ "$(jq -r '[.stages[] | select(.stage == "deploy" and .status == "succeeded")] | length' <<<"$RUN")" = 1 ] && break
  case "$status" in
    succeeded) break ;;
    failed|blocked|cancelled) fail "run $status: $(jq -r '.error // ([.stages[] | select(.error != null) | "\(.stage): \(.error)"] | join("; "))' <<<"$RUN")" ;;
  esac
  [ "$(date +%s)" -lt "$deadline" ] || fail "run still $status after ${RUN_TIMEOUT_S}s"
  sleep 5
done
# Where the work happened: the run's files are in the workers container's data volume, written by its processes.
compose exec -T workers sh -c "ls /data/runs/ | grep -c . >/dev/null && find /data/runs -path '*adapter_model.safetensors' | head -3" \
  | sed 's/^/   workers container: /'
api GET "/api/v1/runs/$RUN_ID/eval" | jq -r '"   eval: " + ([.results[] | "\(.metric) \(.value * 1000 | round / 1000)"] | join(", ")) + "; gate passed: \(.gate.passed)"'

chat() { # prints the HTTP status; body in $CHAT_BODY, served model version in $CHAT_VERSION
  local headers; headers="$(mktemp)"
  CHAT_BODY="$(curl -sS -D "$headers" -o - "$GATEWAY/demo/dev/v1/chat/completions" -H "authorization: Bearer $TOKEN" \
    -H 'content-type: application/json' --max-time 120 \
    --data '{"model": "compose-assistant", "messages": [{"role": "user", "content": "Reverse:\n\ncanary"}], "max_tokens": 12, "temperature": 0}' \
    -w '\n%{http_code}' || true)"
  CHAT_CODE="${CHAT_BODY##*$'\n'}"; CHAT_BODY="${CHAT_BODY%$'\n'*}"
  CHAT_VERSION="$(sed -n 's/^x-loraplane-model-version: *//Ip' "$headers" | tr -d '\r')"
  rm -f "$headers"
}

step "wait for the deployment to go live in dev (the canary's one step needs 3 requests through the gateway)"
deadline=$(( $(date +%s) + 600 ))
sent=0 answered=0 last=""
while :; do
  DEP="$(api GET "/api/v1/projects/$PROJECT_ID/deployments" | jq -c --arg run "$RUN_ID" '[(.items // .)[] | select(.runId == $run)][0]')"
  state="$(jq -r '.state // "none"' <<<"$DEP")"
  [ "$state" != "$last" ] && { printf '   [%5ss] deployment %s\n' "$(($(date +%s) - T0))" "$state"; last="$state"; }
  [ "$state" = promoted ] && break
  case "$state" in rolled_back|failed|superseded) fail "deployment $state: $(jq -r .reason <<<"$DEP")" ;; esac
  [ "$(date +%s)" -lt "$deadline" ] || fail "deployment still $state"
  if [ "$state" = progressing ]; then
    chat; sent=$((sent + 1)); [ "$CHAT_CODE" = 200 ] && answered=$((answered + 1))
  fi
  sleep 2
done
echo "   $answered of $sent requests during the rollout answered"
for _ in $(seq 60); do [ "$(api GET "/api/v1/runs/$RUN_ID" | jq -r .status)" = succeeded ] && break; sleep 2; done
[ "$(api GET "/api/v1/runs/$RUN_ID" | jq -r .status)" = succeeded ] || fail "run not succeeded after its deployment was promoted"
echo "   run $RUN_ID succeeded"
VERSION_ID="$(api GET "/api/v1/deployments/$(jq -r .id <<<"$DEP")" | jq -r '[.deployment.variants[] | select(.weightBps == 10000)][0].modelVersionId')"
echo "   deployment $(jq -r .id <<<"$DEP") promoted; model version $VERSION_ID serves 100%"

step "chat completion through the gateway container"
chat
code="$CHAT_CODE" REPLY="$CHAT_BODY" served_by="$CHAT_VERSION"
[ "$code" = 200 ] || fail "gateway answered HTTP $code: $REPLY"
jq -e '.object == "chat.completion" and (.choices[0].message.role == "assistant") and (.choices[0].message.content | type == "string") and .usage.completion_tokens > 0' <<<"$REPLY" >/dev/null \
  || fail "not an OpenAI chat completion: $REPLY"
[ "$served_by" = "$VERSION_ID" ] || fail "answered by model version '$served_by', expected the deployed $VERSION_ID"
echo "   answer $(jq -c '.choices[0].message.content' <<<"$REPLY") ($(jq -r .usage.completion_tokens <<<"$REPLY") tokens) from model version $served_by"
# Without a token the gateway refuses (GATEWAY_REQUIRE_AUTH=true in the compose file).
unauth="$(curl -s -o /dev/null -w '%{http_code}' "$GATEWAY/demo/dev/v1/chat/completions" -H 'content-type: application/json' --data '{"model":"compose-assistant","messages":[]}')"
[ "$unauth" = 401 ] || fail "gateway without a token answered $unauth, expected 401"
echo "   without a token: HTTP 401"
