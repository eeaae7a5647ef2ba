# syntax=docker/dockerfile:1.7
# Dashboard + REST API (Next.js). Build from the repository root:
#   docker build -f deploy/docker/web.Dockerfile -t loraplane/web .
FROM node:20.19-bookworm-slim AS deps
WORKDIR /app
ENV NEXT_TELEMETRY_DISABLED=1
# Manifests first so the npm layer is cached until a dependency changes. postinstall generates the Prisma client.
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

FROM deps AS build
COPY packages packages
COPY apps/web apps/web
RUN npm run db:generate && npm run build -w @loraplane/web

FROM node:20.19-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production NEXT_TELEMETRY_DISABLED=1 HOME=/tmp
COPY --from=build /app /app
# Named volumes mounted at /data inherit this ownership, so the app user can write run directories there.
RUN mkdir -p /data && chown 10001:10001 /data
USER 10001:10001
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s CMD node -e "fetch('http://127.0.0.1:'+(process.env.WEB_PORT||3000)+'/api/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["sh", "-c", "exec node_modules/.bin/next start apps/web -p \"${WEB_PORT:-3000}\" -H 0.0.0.0"]
