import { hostname } from "node:os";
import { loadGatewayEnv } from "@loraplane/config";
import { createPrismaClient } from "@loraplane/db";
import { createLogger } from "./log.ts";
import { createGateway } from "./server.ts";

const env = loadGatewayEnv();
const log = createLogger(env.LOG_LEVEL);
const db = createPrismaClient({ url: env.DATABASE_URL, poolSize: env.DATABASE_POOL_SIZE });
const gateway = createGateway({
  db,
  databaseUrl: env.DATABASE_URL,
  log,
  // A restarted process is a new gateway instance: its windows never overwrite the totals its predecessor flushed.
  gatewayId: `${hostname()}:${env.GATEWAY_PORT}:${process.pid}`,
  requireAuth: env.GATEWAY_REQUIRE_AUTH,
  maxBodyBytes: env.GATEWAY_MAX_BODY_BYTES,
  upstreamTimeoutMs: env.GATEWAY_UPSTREAM_TIMEOUT_MS,
  flushIntervalMs: env.GATEWAY_FLUSH_INTERVAL_MS,
  environments: env.GATEWAY_ENVIRONMENTS,
  metricsToken: env.GATEWAY_METRICS_TOKEN,
  connectionsPerUpstream: env.GATEWAY_UPSTREAM_CONNECTIONS || null,
  upstreamApiKey: env.SERVING_API_KEY ?? null,
  feedbackKey: env.GATEWAY_FEEDBACK_KEY ?? null,
});

const port = await gateway.listen(env.GATEWAY_PORT, env.GATEWAY_HOST);
log.info({ port, host: env.GATEWAY_HOST, auth: env.GATEWAY_REQUIRE_AUTH, environments: env.GATEWAY_ENVIRONMENTS.length ? env.GATEWAY_ENVIRONMENTS : "all" }, "gateway listening");

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, "draining");
  const force = setTimeout(() => process.exit(1), 30_000);
  force.unref();
  await gateway.close();
  await db.$disconnect();
  process.exit(0);
}
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
