# Workers (orchestration, executors, rollout controller), plus the migration and bootstrap commands. Includes Python
# 3.11 with the gpu-runtime package and CPU torch, so EXECUTOR=local trains, evaluates and serves inside this
# container; with EXECUTOR=kubernetes the GPU work runs in gpu-runtime's own images instead. Build from the
# repository root with the classic builder (deploy/docker/build.sh, which also serves the wheel mirror):
#   DOCKER_BUILDKIT=0 docker build --network host -f deploy/docker/workers.Dockerfile -t loraplane/workers:local .
# Base images are build arguments so the image builds without a registry: deploy/docker/build-base.sh makes them
# from Debian packages; a site with a registry may pass NODE_BASE_IMAGE=node:20-bookworm-slim (or its mirror of it).
ARG NODE_BASE_IMAGE=loraplane/base-node:bookworm
# NODE_BASE_IMAGE plus Debian's python3 (3.11) and python3-venv (build-base.sh: base-python).
ARG PYTHON_BASE_IMAGE=loraplane/base-python:bookworm

# ---- python: gpu-runtime's pinned requirements in a virtualenv at its final path (venvs are not relocatable). First
# stage, so `--target python` builds it alone (the classic builder builds every stage before the target).
FROM ${PYTHON_BASE_IMAGE} AS python
# Wheel sources, read by pip from the environment. Defaults: PyPI plus PyTorch's CPU index (torch==…+cpu).
# An air-gapped site points them at its mirror (a PEP 503 "simple" index, e.g. devpi/Nexus, or a folder of wheels
# served over HTTP for PIP_FIND_LINKS); build.sh serves this machine's /opt mirror on loopback.
ARG PIP_INDEX_URL=https://pypi.org/simple
ARG PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu
ARG PIP_FIND_LINKS=
ARG PIP_TRUSTED_HOST=
COPY gpu-runtime/requirements.txt /app/gpu-runtime/requirements.txt
# (An argument passed empty means "not set": pip would otherwise read an empty value.)
RUN for v in PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_FIND_LINKS PIP_TRUSTED_HOST; do \
      eval "[ -n \"\${$v}\" ] || unset $v"; done \
 && python3 -m venv /app/gpu-runtime/.venv \
 && PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 /app/gpu-runtime/.venv/bin/pip install -q -r /app/gpu-runtime/requirements.txt \
 && echo /app/gpu-runtime > /app/gpu-runtime/.venv/lib/python3.11/site-packages/loraplane-runtime.pth

# ---- deps: the workspace's npm dependencies (identical in web/workers/gateway.Dockerfile, so the classic builder's
# cache builds it once for all three). Manifests first: this layer is rebuilt only when a dependency changes.
FROM ${NODE_BASE_IMAGE} AS deps
# npm registry (or an air-gapped site's mirror of it, e.g. a Verdaccio/Nexus/Artifactory npm proxy).
ARG NPM_CONFIG_REGISTRY=https://registry.npmjs.org/
WORKDIR /app
COPY package.json package-lock.json prisma.config.ts ./
COPY scripts/prisma.mjs scripts/prisma.mjs
COPY packages/core/package.json packages/core/
COPY packages/config/package.json packages/config/
COPY packages/db/package.json packages/db/
COPY packages/queue/package.json packages/queue/
COPY packages/services/package.json packages/services/
COPY apps/web/package.json apps/web/
COPY apps/gateway/package.json apps/gateway/
COPY workers/package.json workers/
COPY gpu-runtime/package.json gpu-runtime/
COPY deploy/test/package.json deploy/test/
COPY tests/e2e/package.json tests/e2e/
# --ignore-scripts: the root postinstall would generate the Prisma client, which needs the schema; that happens in
# the next stage, so a schema change does not reinstall every package. (npm 11 runs no dependency install scripts
# unless approved, so nothing else is skipped.)
RUN npm ci --ignore-scripts --no-audit --no-fund --loglevel=error && npm cache clean --force

FROM deps AS app
# The whole context in one layer (.dockerignore keeps node_modules, builds and venvs out): with the vfs storage
# driver every layer is a full copy of the image, so one COPY beats one per folder.
COPY . .
# The Prisma client from the schema alone (the JS engine: nothing is downloaded from Prisma's servers).
RUN node scripts/prisma.mjs generate

# ---- runtime: the base plus the venv and the app, two layers (the vfs storage driver copies every layer in full).
FROM ${PYTHON_BASE_IMAGE}
# Named volumes mounted at /data inherit this ownership, so the app user can write run directories there.
RUN mkdir -p /app /data && chown 10001:10001 /data
WORKDIR /app
# The runtime package is importable from the venv through a .pth file pointing at /app/gpu-runtime (like pip -e).
ENV NODE_ENV=production HOME=/tmp LORAPLANE_DATA_DIR=/data HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
    GPU_RUNTIME_PYTHON=/app/gpu-runtime/.venv/bin/python
USER 10001:10001
EXPOSE 9464
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s CMD node -e "fetch('http://127.0.0.1:'+(process.env.WORKER_HEALTH_PORT||9464)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# node --import tsx (not the tsx CLI) so SIGTERM reaches the workers' drain handler (jobs handed back to the queue).
CMD ["node", "--import", "tsx", "workers/src/main.ts"]
# The app last: with vfs every later instruction would copy the whole image again for its build container.
COPY --from=python /app/gpu-runtime/.venv /app/gpu-runtime/.venv
COPY --from=app /app /app
