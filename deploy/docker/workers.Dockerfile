# syntax=docker/dockerfile:1.7
# Workers (orchestration, executors, rollout controller) and the migration command. Includes Python 3.11 with the
# gpu-runtime package (CPU torch) so EXECUTOR=local runs training, evaluation and serving inside this container;
# with EXECUTOR=kubernetes the GPU work runs in gpu-runtime's own images instead. Build from the repository root:
#   docker build -f deploy/docker/workers.Dockerfile -t loraplane/workers .
FROM node:20.19-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json prisma.config.ts ./
COPY scripts/prisma.mjs scripts/prisma.mjs
COPY prisma prisma
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
RUN npm ci --no-audit --no-fund

FROM node:20.19-bookworm-slim AS python
# Debian bookworm's python3 is 3.11, the version gpu-runtime's pins are resolved for.
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv && rm -rf /var/lib/apt/lists/*
COPY gpu-runtime/requirements.txt gpu-runtime/pyproject.toml /app/gpu-runtime/
RUN python3 -m venv /app/gpu-runtime/.venv \
 && /app/gpu-runtime/.venv/bin/pip install --no-cache-dir --extra-index-url https://download.pytorch.org/whl/cpu -r /app/gpu-runtime/requirements.txt
COPY gpu-runtime/loraplane_runtime /app/gpu-runtime/loraplane_runtime
RUN /app/gpu-runtime/.venv/bin/pip install --no-cache-dir --no-deps /app/gpu-runtime

FROM node:20.19-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends python3 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production HOME=/tmp HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
    GPU_RUNTIME_PYTHON=/app/gpu-runtime/.venv/bin/python
COPY --from=deps /app /app
COPY --from=python /app/gpu-runtime/.venv /app/gpu-runtime/.venv
COPY packages packages
COPY workers workers
COPY scripts scripts
COPY gpu-runtime gpu-runtime
RUN node scripts/prisma.mjs generate
# Named volumes mounted at /data inherit this ownership, so the app user can write run directories there.
RUN mkdir -p /data && chown 10001:10001 /data
USER 10001:10001
EXPOSE 9464
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s CMD node -e "fetch('http://127.0.0.1:9464/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node_modules/.bin/tsx", "workers/src/main.ts"]
