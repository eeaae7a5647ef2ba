# syntax=docker/dockerfile:1.7
# Inference gateway (OpenAI-compatible router in front of vLLM). Build from the repository root:
#   docker build -f deploy/docker/gateway.Dockerfile -t loraplane/gateway .
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

FROM node:20.19-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production HOME=/tmp
COPY --from=deps /app /app
COPY packages packages
COPY apps/gateway apps/gateway
RUN node scripts/prisma.mjs generate
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s CMD node -e "fetch('http://127.0.0.1:8080/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node_modules/.bin/tsx", "apps/gateway/src/main.ts"]
