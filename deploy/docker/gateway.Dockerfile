# Inference gateway (OpenAI-compatible router in front of the model servers). Build from the repository root with
# the classic builder (deploy/docker/build.sh):
#   DOCKER_BUILDKIT=0 docker build --network host -f deploy/docker/gateway.Dockerfile -t loraplane/gateway:local .
# Base images are build arguments so the image builds without a registry: deploy/docker/build-base.sh makes them
# from Debian packages; a site with a registry may pass NODE_BASE_IMAGE=node:20-bookworm-slim (or its mirror of it).
ARG NODE_BASE_IMAGE=loraplane/base-node:bookworm

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

# ---- runtime: the base plus one layer with the app (the vfs storage driver copies every layer in full).
FROM ${NODE_BASE_IMAGE}
RUN mkdir -p /app
WORKDIR /app
ENV NODE_ENV=production HOME=/tmp
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s CMD node -e "fetch('http://127.0.0.1:'+(process.env.GATEWAY_PORT||8080)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# node --import tsx (not the tsx CLI) so SIGTERM reaches the gateway's own drain handler.
CMD ["node", "--import", "tsx", "apps/gateway/src/main.ts"]
# The app last: with vfs every later instruction would copy the whole image again for its build container.
COPY --from=app /app /app
