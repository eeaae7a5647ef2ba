import "server-only";
import { loadWebEnv, type TWebEnv } from "@loraplane/config";
import { type Db, getPrisma } from "@loraplane/db";
import { createPipelineQueue, type TPipelineQueue } from "@loraplane/queue";
import { initTracing } from "@loraplane/services";
import pino, { type Logger } from "pino";

export type TServerContext = { env: TWebEnv; db: Db; log: Logger; queue: () => TPipelineQueue };

let context: TServerContext | undefined;

/**
 * The web process's configuration, database client, logger and queue producer, built on first use so that
 * `next build` can import routes without a database or secrets.
 */
export function serverContext(): TServerContext {
  if (context) return context;
  const env = loadWebEnv();
  const log = pino({ level: env.LOG_LEVEL, base: { service: "web" } });
  initTracing({ serviceName: "loraplane-web", endpoint: env.OTEL_EXPORTER_OTLP_ENDPOINT ?? null });
  let queue: TPipelineQueue | undefined;
  context = {
    env,
    log,
    db: getPrisma({ url: env.DATABASE_URL, poolSize: env.DATABASE_POOL_SIZE }),
    // Connected lazily: only triggers, retries and approvals need Redis.
    queue: () => (queue ??= createPipelineQueue({ connection: { url: env.REDIS_URL }, prefix: env.QUEUE_PREFIX })),
  };
  return context;
}
