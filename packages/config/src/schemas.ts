import { z } from "zod";

const port = (fallback: number) => z.coerce.number().int().min(1).max(65535).default(fallback);
const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const postgresUrl = z
  .string()
  .regex(/^postgres(ql)?:\/\//, "must be a postgres:// or postgresql:// URL")
  .default("postgresql://postgres@127.0.0.1:5432/loraplane");
const redisUrl = z.string().regex(/^rediss?:\/\//, "must be a redis:// or rediss:// URL").default("redis://127.0.0.1:6379");
const logLevel = z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info");

/** Variables every server process reads. */
export const ZCommonEnv = z.object({
  NODE_ENV: z.enum(["development", "test", "production"]).default("development"),
  DATABASE_URL: postgresUrl,
  DATABASE_POOL_SIZE: positiveInt(10),
  REDIS_URL: redisUrl,
  LOG_LEVEL: logLevel,
  // Folder for run working directories, artifacts and local serving state.
  LORAPLANE_DATA_DIR: z.string().min(1).default(".loraplane/data"),
  // BullMQ key prefix (unset: BullMQ's "bull"); every process of one install must use the same one.
  QUEUE_PREFIX: z.string().min(1).optional(),
});

export const ZMigrateEnv = z.object({ DATABASE_URL: postgresUrl });

export const ZWorkerEnv = ZCommonEnv.extend({
  WORKER_CONCURRENCY: positiveInt(4),
  WORKER_HEALTH_PORT: port(9464),
  EXECUTOR: z.enum(["local", "kubernetes"]).default("local"),
  // Python interpreter that has the gpu-runtime package installed (local executor).
  GPU_RUNTIME_PYTHON: z.string().min(1).default("gpu-runtime/.venv/bin/python"),
  // URL the workloads use to report metrics to the control plane (the web app).
  LORAPLANE_PUBLIC_URL: z.string().url().default("http://127.0.0.1:3000"),
  K8S_NAMESPACE: z.string().min(1).default("loraplane-jobs"),
  K8S_IN_CLUSTER: z.enum(["true", "false"]).default("false").transform((v) => v === "true"),
  RECONCILE_INTERVAL_MS: positiveInt(15_000),
  HEARTBEAT_TIMEOUT_S: positiveInt(300),
  LORAPLANE_SECRET_KEY: z.string().min(32, "must be at least 32 characters").optional(),
});

export const ZGatewayEnv = ZCommonEnv.extend({
  GATEWAY_PORT: port(8080),
  GATEWAY_HOST: z.string().default("127.0.0.1"),
  GATEWAY_FLUSH_INTERVAL_MS: positiveInt(5_000),
  GATEWAY_UPSTREAM_TIMEOUT_MS: positiveInt(120_000),
  GATEWAY_MAX_BODY_BYTES: positiveInt(1_048_576),
  GATEWAY_REQUIRE_AUTH: z.enum(["true", "false"]).default("true").transform((v) => v === "true"),
});

export const ZWebEnv = ZCommonEnv.extend({
  WEB_PORT: port(3000),
  NEXTAUTH_URL: z.string().url().default("http://127.0.0.1:3000"),
  NEXTAUTH_SECRET: z.string().min(32, "must be at least 32 characters (openssl rand -base64 32)"),
  LORAPLANE_SECRET_KEY: z.string().min(32, "must be at least 32 characters"),
  SESSION_IDLE_TIMEOUT_S: positiveInt(8 * 3600),
  SESSION_ABSOLUTE_TIMEOUT_S: positiveInt(7 * 24 * 3600),
  OIDC_ISSUER: z.string().url().optional(),
  OIDC_CLIENT_ID: z.string().optional(),
  OIDC_CLIENT_SECRET: z.string().optional(),
  OIDC_NAME: z.string().default("SSO"),
});

export type TCommonEnv = z.infer<typeof ZCommonEnv>;
export type TWorkerEnv = z.infer<typeof ZWorkerEnv>;
export type TGatewayEnv = z.infer<typeof ZGatewayEnv>;
export type TWebEnv = z.infer<typeof ZWebEnv>;

/** The `loraplane` CLI: REST commands use the URL and token; bootstrap commands (user/token create) use DATABASE_URL. */
export const ZCliEnv = z.object({
  LORAPLANE_URL: z.string().url().default("http://127.0.0.1:3000"),
  LORAPLANE_TOKEN: z.string().optional(),
  DATABASE_URL: postgresUrl,
});
export type TCliEnv = z.infer<typeof ZCliEnv>;
