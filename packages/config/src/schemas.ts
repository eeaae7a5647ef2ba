import { z } from "zod";

const port = (fallback: number) => z.coerce.number().int().min(1).max(65535).default(fallback);
const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const postgresUrl = z
  .string()
  .regex(/^postgres(ql)?:\/\//, "must be a postgres:// or postgresql:// URL")
  .default("postgresql://postgres@127.0.0.1:5432/loraplane");
const redisUrl = z.string().regex(/^rediss?:\/\//, "must be a redis:// or rediss:// URL").default("redis://127.0.0.1:6379");
// The public base of the inference gateway; an environment's OpenAI base URL is `<this>/<projectSlug>/<environmentName>/v1`
// unless the environment sets its own gatewayUrl (see inferenceBaseUrl in packages/core).
const gatewayPublicUrl = z.string().url().default("http://127.0.0.1:8080").transform((v) => v.replace(/\/+$/, ""));
// Internal webhook receivers an operator allows (host names and CIDRs, comma-separated): every other private,
// loopback or link-local address is refused for outbound webhooks (SSRF).
const webhookAllowedHosts = z.string().default("").transform((v) => v.split(",").map((s) => s.trim()).filter(Boolean));
const logLevel = z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info");

/** Variables every server process reads. */
export const ZCommonEnv = z.object({
  NODE_ENV: z.enum(["development", "test", "production"]).default("development"),
  DATABASE_URL: postgresUrl,
  DATABASE_POOL_SIZE: positiveInt(10),
  REDIS_URL: redisUrl,
  LOG_LEVEL: logLevel,
  // OpenTelemetry traces over OTLP/HTTP to this collector (e.g. http://otel-collector:4318); unset: no tracing.
  OTEL_EXPORTER_OTLP_ENDPOINT: z.string().url().optional(),
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
  // Extra variables local workloads receive besides PATH, HOME, LANG and the runtime's own (comma-separated names, e.g.
  // HTTPS_PROXY); the control plane's secrets and connection strings are never passed.
  LOCAL_WORKLOAD_PASS_ENV: z.string().default("").transform((v) => v.split(",").map((s) => s.trim()).filter(Boolean)),
  // URL the workloads use to report metrics to the control plane (the web app).
  LORAPLANE_PUBLIC_URL: z.string().url().default("http://127.0.0.1:3000"),
  GATEWAY_PUBLIC_URL: gatewayPublicUrl,
  K8S_NAMESPACE: z.string().min(1).default("loraplane-jobs"),
  K8S_IN_CLUSTER: z.enum(["true", "false"]).default("false").transform((v) => v === "true"),
  // Kubernetes executor: the gpu-runtime image (Dockerfile.train) its Jobs run.
  K8S_RUNTIME_IMAGE: z.string().min(1).default("loraplane/gpu-runtime:local"),
  K8S_IMAGE_PULL_POLICY: z.enum(["Always", "IfNotPresent", "Never"]).default("IfNotPresent"),
  K8S_IMAGE_PULL_SECRETS: z.string().default("").transform((v) => v.split(",").map((s) => s.trim()).filter(Boolean)),
  // ServiceAccount of the training pods (they never call the Kubernetes API; their token is not mounted).
  K8S_JOB_SERVICE_ACCOUNT: z.string().min(1).optional(),
  // PersistentVolumeClaims mounted at /models (read-only), /data (read-only) and /runs in every Job.
  K8S_MODELS_PVC: z.string().min(1).optional(),
  K8S_DATA_PVC: z.string().min(1).optional(),
  K8S_ARTIFACTS_PVC: z.string().min(1).default("loraplane-runs"),
  // Where the worker itself mounts the artifacts PVC (ReadWriteMany): it writes job.json and reads eval reports there.
  K8S_ARTIFACTS_DIR: z.string().min(1).default("/runs"),
  // Where the worker mounts the data PVC (read-only): the prepare stage verifies dataset digests there. Unset: runs on
  // the kubernetes executor fail prepare (an unverified dataset is never trained on).
  K8S_DATA_DIR: z.string().min(1).optional(),
  K8S_BACKOFF_LIMIT: z.coerce.number().int().min(0).max(20).default(2),
  // How a multi-node training attempt runs: an Indexed Job (a failed rank is retried alone) or a JobSet (the cluster's
  // JobSet controller restarts the whole group, which torchrun's rendezvous needs; the JobSet CRD must be installed).
  K8S_MULTINODE_ENGINE: z.enum(["indexed-job", "jobset"]).default("indexed-job"),
  // Finished Jobs (and their pod logs) are kept this long so a restarted worker can still read the result.
  K8S_JOB_TTL_SECONDS: positiveInt(86_400),
  // Extra workload env from existing Secrets: "HF_TOKEN=hf-credentials/token,WANDB_API_KEY=wandb/key".
  K8S_SECRET_ENV: z
    .string()
    .default("")
    .transform((v, ctx) =>
      v.split(",").map((s) => s.trim()).filter(Boolean).flatMap((entry) => {
        const m = entry.match(/^([A-Za-z_][A-Za-z0-9_]*)=([a-z0-9]([-a-z0-9.]*[a-z0-9])?)\/([-._a-zA-Z0-9]+)$/);
        if (!m) {
          ctx.addIssue({ code: "custom", message: `"${entry}" must look like ENV_NAME=secret-name/key` });
          return [];
        }
        return [{ name: m[1]!, secretName: m[2]!, key: m[4]! }];
      }),
    ),
  // Node label that carries the GPU model (NVIDIA GPU feature discovery); resources.gpuType selects on it.
  K8S_GPU_TYPE_LABEL: z.string().min(1).default("nvidia.com/gpu.product"),
  // Spot/preemptible nodes: label "key=value" the pods require and taint "key=value:Effect" they tolerate.
  K8S_SPOT_NODE_SELECTOR: z.string().regex(/^[\w./-]+=[\w.-]*$/, "must look like key=value").default("node.kubernetes.io/lifecycle=spot"),
  K8S_SPOT_TOLERATION: z.string().regex(/^[\w./-]+(=[\w.-]*)?:(NoSchedule|PreferNoSchedule|NoExecute)$/, "must look like key=value:Effect").default("node.kubernetes.io/lifecycle=spot:NoSchedule"),
  // vLLM serving on Kubernetes (environments whose servingBackend is kubernetes): image from gpu-runtime's
  // Dockerfile.vllm, one Deployment per (environment, base model), adapters loaded at runtime.
  VLLM_IMAGE: z.string().min(1).default("loraplane/vllm:latest"),
  // The key vLLM Deployments and local `serve` processes require (Authorization: Bearer): the workers send it when
  // they load and unload adapters, the gateways when they proxy. vLLM reads it from the Secret VLLM_API_KEY_REF
  // (key "api-key") in each environment namespace. Unset: local serve runs without a key (development only).
  SERVING_API_KEY: z.string().min(32, "must be at least 32 characters").optional(),
  VLLM_API_KEY_REF: z.string().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, "must be a Secret name").default("loraplane-serving-api-key"),
  VLLM_GPUS: z.coerce.number().int().min(1).default(1),
  VLLM_MIN_REPLICAS: positiveInt(1),
  VLLM_MAX_REPLICAS: positiveInt(4),
  VLLM_MODELS_PVC: z.string().min(1).default("loraplane-models"),
  VLLM_ADAPTERS_PVC: z.string().min(1).default("loraplane-adapters"),
  VLLM_MAX_LORAS: positiveInt(8),
  VLLM_MAX_LORA_RANK: positiveInt(64),
  // Autoscaling on vllm:num_requests_waiting: KEDA ScaledObject, a plain HPA (custom metrics adapter), or none.
  VLLM_AUTOSCALER: z.enum(["keda", "hpa", "none"]).default("keda"),
  VLLM_TARGET_WAITING_PER_POD: positiveInt(4),
  RECONCILE_INTERVAL_MS: positiveInt(15_000),
  // Where the rollout analysis reads variant traffic: our gateway's windows (default) or vLLM's series in Prometheus
  // (clusters whose traffic moves through the cluster's own gateway).
  ROLLOUT_METRICS_PROVIDER: z.enum(["gateway-windows", "prometheus"]).default("gateway-windows"),
  PROMETHEUS_URL: z.string().url().default("http://prometheus.monitoring.svc:9090"),
  // Where the rollout's split is carried out: our gateway's routing table (default) or an HTTPRoute per endpoint on
  // the cluster's Gateway (Gateway API), in each environment's namespace, attached to this Gateway.
  ROLLOUT_TRAFFIC_PROVIDER: z.enum(["builtin", "gateway-api"]).default("builtin"),
  GATEWAY_API_PARENT_NAME: z.string().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, "must be a Gateway name").default("inference-gateway"),
  GATEWAY_API_PARENT_NAMESPACE: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "must be a namespace").optional(),
  GATEWAY_API_PARENT_SECTION: z.string().min(1).optional(),
  GATEWAY_API_HOSTNAMES: z.string().default("").transform((v) => v.split(",").map((s) => s.trim()).filter(Boolean)),
  // Outbound webhooks: internal receivers allowed, how long one attempt may take, how many attempts an event gets.
  WEBHOOK_ALLOWED_HOSTS: webhookAllowedHosts,
  WEBHOOK_TIMEOUT_MS: positiveInt(10_000),
  WEBHOOK_MAX_ATTEMPTS: positiveInt(8),
  HEARTBEAT_TIMEOUT_S: positiveInt(300),
  LORAPLANE_SECRET_KEY: z.string().min(32, "must be at least 32 characters").optional(),
  // The LLM judge of shadow evaluation (deploy.shadow.judge): an OpenAI-compatible endpoint (base URL with /v1), the
  // model to ask and its key. Set by the operator, never by a pipeline spec. Unset: a policy asking for a judge fails.
  LORAPLANE_JUDGE_URL: z.string().url().optional(),
  LORAPLANE_JUDGE_MODEL: z.string().min(1).optional(),
  LORAPLANE_JUDGE_API_KEY: z.string().min(1).optional(),
  LORAPLANE_JUDGE_TIMEOUT_MS: positiveInt(60_000),
});

export const ZGatewayEnv = ZCommonEnv.extend({
  GATEWAY_PORT: port(8080),
  GATEWAY_HOST: z.string().default("127.0.0.1"),
  GATEWAY_FLUSH_INTERVAL_MS: positiveInt(5_000),
  GATEWAY_UPSTREAM_TIMEOUT_MS: positiveInt(120_000),
  GATEWAY_MAX_BODY_BYTES: positiveInt(1_048_576),
  GATEWAY_REQUIRE_AUTH: z.enum(["true", "false"]).default("true").transform((v) => v === "true"),
  // Connections per upstream (model server); 0: unbounded, so no request waits at the gateway for a connection.
  GATEWAY_UPSTREAM_CONNECTIONS: z.coerce.number().int().min(0).default(0),
  // Bearer token for GET /metrics; unset: /metrics answers loopback peers only (see apps/gateway/README.md).
  GATEWAY_METRICS_TOKEN: z.string().min(16, "must be at least 16 characters").optional(),
  // Environments this gateway serves, "<projectSlug>/<environmentName>" comma-separated, "*" on either side
  // ("*/prod": every project's prod). Empty: every environment (one gateway for all, or one per environment).
  GATEWAY_ENVIRONMENTS: z
    .string()
    .default("")
    .transform((v, ctx) =>
      v.split(",").map((s) => s.trim()).filter(Boolean).filter((entry) => {
        if (/^(\*|[a-z0-9][a-z0-9-]*)\/(\*|[a-z0-9][a-z0-9-]*)$/.test(entry)) return true;
        ctx.addIssue({ code: "custom", message: `"${entry}" must look like <projectSlug>/<environmentName> ("*" allowed on either side)` });
        return false;
      }),
    ),
  // Bearer key vLLM (--api-key) and gpu-runtime serve require from their callers; sent on every upstream request.
  SERVING_API_KEY: z.string().min(32, "must be at least 32 characters").optional(),
  // Key request ids are signed with (feedback is checked against the id, nothing is stored per request); the same on
  // every gateway of an install so feedback may reach any of them. Unset: derived from SERVING_API_KEY, else random
  // per process (then a gateway accepts feedback only on its own answers).
  GATEWAY_FEEDBACK_KEY: z.string().min(32, "must be at least 32 characters").optional(),
});

export const ZWebEnv = ZCommonEnv.extend({
  WEB_PORT: port(3000),
  NEXTAUTH_URL: z.string().url().default("http://127.0.0.1:3000"),
  GATEWAY_PUBLIC_URL: gatewayPublicUrl,
  WEBHOOK_ALLOWED_HOSTS: webhookAllowedHosts,
  // Bearer token Prometheus presents on /api/metrics; unset: the endpoint answers 404 (nothing is exposed by default).
  METRICS_TOKEN: z.string().min(16, "must be at least 16 characters").optional(),
  NEXTAUTH_SECRET: z.string().min(32, "must be at least 32 characters (openssl rand -base64 32)"),
  LORAPLANE_SECRET_KEY: z.string().min(32, "must be at least 32 characters"),
  // Browser sessions end after 2 h without a request, and 24 h after sign-in whatever the activity.
  SESSION_IDLE_TIMEOUT_S: positiveInt(2 * 3600),
  SESSION_ABSOLUTE_TIMEOUT_S: positiveInt(24 * 3600),
  // "true" only behind one reverse proxy that appends the client address to X-Forwarded-For: the right-most entry is
  // then the client (audit entries, per-address sign-in throttling). Otherwise the header is ignored (anyone can send it).
  TRUSTED_PROXY: z.enum(["true", "false"]).default("false").transform((v) => v === "true"),
  OIDC_ISSUER: z.string().url().optional(),
  OIDC_CLIENT_ID: z.string().optional(),
  OIDC_CLIENT_SECRET: z.string().optional(),
  OIDC_NAME: z.string().default("SSO"),
  // Largest dataset upload (the whole multipart body) the web process accepts; past it the upload is a 413.
  DATASET_UPLOAD_MAX_BYTES: positiveInt(512 * 1024 * 1024),
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
