#!/usr/bin/env bash
# Builds the product images (web, workers, gateway) with the classic builder (no BuildKit frontend to pull) from the
# base images of build-base.sh. Run from anywhere; build contexts are the repository root.
#   deploy/docker/build.sh                 # all three
#   deploy/docker/build.sh workers         # some of them
# Environment (all optional):
#   IMAGE_PREFIX (loraplane), IMAGE_TAG (local)      → $IMAGE_PREFIX/{web,workers,gateway}:$IMAGE_TAG
#   NODE_BASE_IMAGE, PYTHON_BASE_IMAGE               → default $IMAGE_PREFIX/base-node:bookworm, base-python:bookworm
#   NPM_CONFIG_REGISTRY                              → default: this machine's `npm config get registry`
#   PIP_INDEX_URL, PIP_EXTRA_INDEX_URL, PIP_FIND_LINKS → default: when /opt/pypi/simple exists (this machine's wheel
#       mirror), it is served read-only on a free loopback port for the build (pypi/simple, pypi-more/simple, wheels/);
#       otherwise PyPI plus PyTorch's CPU index (the Dockerfile's defaults). WHEEL_MIRROR_PORT (38917) is its port.
#   EXTRA_BUILD_ARGS                                 → more `docker build` flags, e.g. "--target python --no-cache"
# Builds use the host's network (`--network host`): the engine here runs without a bridge.
set -euo pipefail
export DOCKER_BUILDKIT=0
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
PREFIX="${IMAGE_PREFIX:-loraplane}"
TAG="${IMAGE_TAG:-local}"
NODE_BASE_IMAGE="${NODE_BASE_IMAGE:-$PREFIX/base-node:bookworm}"
PYTHON_BASE_IMAGE="${PYTHON_BASE_IMAGE:-$PREFIX/base-python:bookworm}"
NPM_CONFIG_REGISTRY="${NPM_CONFIG_REGISTRY:-$(npm config get registry 2>/dev/null || echo https://registry.npmjs.org/)}"
IMAGES=("$@")
[ ${#IMAGES[@]} -gt 0 ] || IMAGES=(gateway web workers)

bases=("$NODE_BASE_IMAGE")
[[ " ${IMAGES[*]} " != *" workers "* ]] || bases+=("$PYTHON_BASE_IMAGE")
for base in "${bases[@]}"; do
  docker image inspect "$base" >/dev/null 2>&1 \
    || { echo "base image $base is missing: run deploy/docker/build-base.sh (or set NODE_BASE_IMAGE/PYTHON_BASE_IMAGE)" >&2; exit 1; }
done

MIRROR_PID=""
cleanup() { [ -z "$MIRROR_PID" ] || kill "$MIRROR_PID" 2>/dev/null || true; }
trap cleanup EXIT
if [[ " ${IMAGES[*]} " == *" workers "* ]] && [ -z "${PIP_INDEX_URL:-}" ] && [ -d /opt/pypi/simple ]; then
  # A fixed port: the URL is part of the pip layer's cache key, so a random one would reinstall every wheel each time.
  port="${WHEEL_MIRROR_PORT:-38917}"
  python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', $port))" 2>/dev/null \
    || { echo "port $port is taken; set WHEEL_MIRROR_PORT to a free one" >&2; exit 1; }
  python3 -m http.server --bind 127.0.0.1 --directory /opt "$port" >/tmp/loraplane-wheel-mirror.log 2>&1 &
  MIRROR_PID=$!
  for _ in $(seq 50); do python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/pypi/simple/')" 2>/dev/null && break; sleep 0.2; done
  PIP_INDEX_URL="http://127.0.0.1:$port/pypi/simple"
  PIP_EXTRA_INDEX_URL=""; [ -d /opt/pypi-more/simple ] && PIP_EXTRA_INDEX_URL="http://127.0.0.1:$port/pypi-more/simple"
  PIP_FIND_LINKS=""; [ -d /opt/wheels ] && PIP_FIND_LINKS="http://127.0.0.1:$port/wheels/"
  echo "wheel mirror: /opt served at http://127.0.0.1:$port (pid $MIRROR_PID)"
fi

for image in "${IMAGES[@]}"; do
  args=(--build-arg "NODE_BASE_IMAGE=$NODE_BASE_IMAGE" --build-arg "NPM_CONFIG_REGISTRY=$NPM_CONFIG_REGISTRY")
  if [ "$image" = workers ]; then
    args+=(--build-arg "PYTHON_BASE_IMAGE=$PYTHON_BASE_IMAGE")
    for v in PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_FIND_LINKS; do
      [ -z "${!v+set}" ] || args+=(--build-arg "$v=${!v}")
    done
  fi
  start=$(date +%s)
  echo "== $PREFIX/$image:$TAG ($(date -u +%T))"
  # shellcheck disable=SC2086 # EXTRA_BUILD_ARGS is split on purpose (e.g. "--target python" to warm one stage)
  docker build --network host "${args[@]}" ${EXTRA_BUILD_ARGS:-} -f "deploy/docker/$image.Dockerfile" -t "$PREFIX/$image:$TAG" .
  echo "== $PREFIX/$image:$TAG built in $(( $(date +%s) - start ))s"
done
# Intermediate stages (npm deps, the venv build) stay as the build cache; `docker image prune` drops what is untagged.
docker image ls --format '{{.Repository}}:{{.Tag}}\t{{.Size}}' | grep -E "^$PREFIX/(web|workers|gateway):$TAG"
