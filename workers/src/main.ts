// The worker process: `npm start -w @loraplane/workers`.
import path from "node:path";
import { loadWorkerEnv, workloadEnvironment } from "@loraplane/config";
import { disconnectPrisma, getPrisma } from "@loraplane/db";
import { initTracing, parseWebhookAllowlist } from "@loraplane/services";
import { pino } from "pino";
import { createKubernetesExecutor, loadKubeConfig, spotPlacement } from "./executors/kubernetes/kubernetes-executor.ts";
import { createLocalExecutor } from "./executors/local.ts";
import { startWorkerApp } from "./worker-app.ts";

const env = loadWorkerEnv();
const log = pino({ level: env.LOG_LEVEL, name: "loraplane-worker" });
const db = getPrisma({ url: env.DATABASE_URL, poolSize: env.DATABASE_POOL_SIZE });
const tracing = initTracing({ serviceName: "loraplane-workers", endpoint: env.OTEL_EXPORTER_OTLP_ENDPOINT ?? null });

const executor =
  env.EXECUTOR === "kubernetes"
    ? createKubernetesExecutor({
        kubeConfig: loadKubeConfig(env.K8S_IN_CLUSTER),
        namespace: env.K8S_NAMESPACE,
        image: env.K8S_RUNTIME_IMAGE,
        imagePullPolicy: env.K8S_IMAGE_PULL_POLICY,
        imagePullSecrets: env.K8S_IMAGE_PULL_SECRETS,
        serviceAccountName: env.K8S_JOB_SERVICE_ACCOUNT,
        claims: { models: env.K8S_MODELS_PVC, data: env.K8S_DATA_PVC, artifacts: env.K8S_ARTIFACTS_PVC },
        artifactsDir: env.K8S_ARTIFACTS_DIR,
        dataDir: env.K8S_DATA_DIR,
        backoffLimit: env.K8S_BACKOFF_LIMIT,
        multiNodeEngine: env.K8S_MULTINODE_ENGINE,
        ttlSecondsAfterFinished: env.K8S_JOB_TTL_SECONDS,
        secretEnv: env.K8S_SECRET_ENV,
        gpuTypeLabel: env.K8S_GPU_TYPE_LABEL,
        spot: spotPlacement(env.K8S_SPOT_NODE_SELECTOR, env.K8S_SPOT_TOLERATION),
        onError: (error) => log.warn({ err: error }, "kubernetes job watch"),
      })
    : createLocalExecutor({
        dataDir: env.LORAPLANE_DATA_DIR,
        baseEnv: () => workloadEnvironment(env.LOCAL_WORKLOAD_PASS_ENV),
        command: (spec) => [path.resolve(env.GPU_RUNTIME_PYTHON), "-m", "loraplane_runtime.cli", spec.command, "--config", "job.json"],
      });

const app = await startWorkerApp({
  db,
  redisUrl: env.REDIS_URL,
  ...(env.QUEUE_PREFIX ? { prefix: env.QUEUE_PREFIX } : {}),
  executor,
  log,
  concurrency: env.WORKER_CONCURRENCY,
  reconcileIntervalMs: env.RECONCILE_INTERVAL_MS,
  engine: { pollMs: 500, heartbeatTimeoutS: env.HEARTBEAT_TIMEOUT_S, logTailLines: 20, runTokenTtlS: 24 * 3600, publicUrl: env.LORAPLANE_PUBLIC_URL },
  health: { port: env.WORKER_HEALTH_PORT, host: "0.0.0.0" },
  ...(env.LORAPLANE_SECRET_KEY
    ? {
        webhooks: {
          secretKey: env.LORAPLANE_SECRET_KEY,
          allowlist: parseWebhookAllowlist(env.WEBHOOK_ALLOWED_HOSTS),
          dashboardUrl: env.LORAPLANE_PUBLIC_URL,
          timeoutMs: env.WEBHOOK_TIMEOUT_MS,
          retry: { maxAttempts: env.WEBHOOK_MAX_ATTEMPTS, baseDelayMs: 10_000, maxDelayMs: 3_600_000 },
          intervalMs: 1000,
        },
      }
    : {}),
});
if (!env.LORAPLANE_SECRET_KEY) log.warn("LORAPLANE_SECRET_KEY is not set: outbound webhooks are not delivered (their secrets cannot be opened)");
log.info({ executor: executor.kind, concurrency: env.WORKER_CONCURRENCY, healthPort: env.WORKER_HEALTH_PORT }, "worker started");

let signalled = false;
for (const sig of ["SIGTERM", "SIGINT"] as const) {
  process.once(sig, () => {
    if (signalled) return;
    signalled = true;
    log.info({ signal: sig }, "shutting down");
    void app
      .stop()
      .then(() => tracing?.shutdown())
      .then(() => disconnectPrisma())
      .finally(() => {
        log.info("stopped");
        process.exit(0);
      });
  });
}
