// Registers the rollout controller as a BullMQ consumer of the rollout queue. Ticks come from a job scheduler and
// run one at a time across the whole cluster (global concurrency 1), so two workers never act on one deployment.
import path from "node:path";
import { loadWorkerEnv, workloadEnvironment, type TWorkerEnv } from "@loraplane/config";
import { openAiCompatibleJudge, prometheusProvider } from "@loraplane/services";
import { ROLLOUT_QUEUE_NAME, createRolloutQueue, parseRolloutJob, type TRolloutQueue } from "@loraplane/queue";
import type { TEngineContext } from "../engine/context.ts";
import type { TProcessorRegistration } from "../processors/types.ts";
import { loadKubeConfig } from "../executors/kubernetes/kubernetes-executor.ts";
import { createKubernetesServingBackend } from "../serving/kubernetes.ts";
import { createLocalServingBackend } from "../serving/local.ts";
import { createRolloutController, type TRolloutController } from "./controller.ts";
import { gatewayApiTrafficProvider } from "./gateway-api-traffic.ts";

export const ROLLOUT_TICK_MS = 2_000;

// One controller and queue per worker app (tests run several apps in one process).
const queues = new WeakMap<TEngineContext, TRolloutQueue>();
const controllers = new WeakMap<TEngineContext, TRolloutController>();

function controllerFor(ctx: TEngineContext): TRolloutController {
  let controller = controllers.get(ctx);
  if (!controller) {
    const env = loadWorkerEnv();
    const rollout = queues.get(ctx);
    controller = createRolloutController({
      deps: {
        db: ctx.db,
        queue: ctx.queue,
        ...(rollout ? { rollout } : {}),
        ...(env.ROLLOUT_METRICS_PROVIDER === "prometheus" ? { metrics: prometheusProvider({ url: env.PROMETHEUS_URL }) } : {}),
        ...(env.LORAPLANE_JUDGE_URL && env.LORAPLANE_JUDGE_MODEL
          ? { judge: openAiCompatibleJudge({ baseUrl: env.LORAPLANE_JUDGE_URL, model: env.LORAPLANE_JUDGE_MODEL, apiKey: env.LORAPLANE_JUDGE_API_KEY, timeoutMs: env.LORAPLANE_JUDGE_TIMEOUT_MS }) }
          : {}),
      },
      backends: {
        local: createLocalServingBackend({
          python: path.resolve(env.GPU_RUNTIME_PYTHON),
          dataDir: env.LORAPLANE_DATA_DIR,
          apiKey: env.SERVING_API_KEY,
          baseEnv: () => workloadEnvironment(env.LOCAL_WORKLOAD_PASS_ENV),
        }),
        ...(env.EXECUTOR === "kubernetes" ? { kubernetes: kubernetesBackend(env) } : {}),
      },
      ...(env.ROLLOUT_TRAFFIC_PROVIDER === "gateway-api" ? { traffic: gatewayApiTraffic(env) } : {}),
      log: ctx.log.child({ component: "rollout" }),
      signal: ctx.signal,
      servingApiKey: env.SERVING_API_KEY,
    });
    controllers.set(ctx, controller);
  }
  return controller;
}

/** HTTPRoutes on the Gateway GATEWAY_API_PARENT_* names (its namespace must allow routes from the environments'). */
function gatewayApiTraffic(env: TWorkerEnv) {
  return gatewayApiTrafficProvider({
    kubeConfig: loadKubeConfig(env.K8S_IN_CLUSTER),
    gateway: {
      name: env.GATEWAY_API_PARENT_NAME,
      ...(env.GATEWAY_API_PARENT_NAMESPACE ? { namespace: env.GATEWAY_API_PARENT_NAMESPACE } : {}),
      ...(env.GATEWAY_API_PARENT_SECTION ? { sectionName: env.GATEWAY_API_PARENT_SECTION } : {}),
    },
    hostnames: env.GATEWAY_API_HOSTNAMES,
  });
}

/** vLLM settings from VLLM_*; deploy/kubernetes/vllm/README.md lists the PVCs and the image they expect. */
function kubernetesBackend(env: TWorkerEnv) {
  return createKubernetesServingBackend({
    kubeConfig: loadKubeConfig(env.K8S_IN_CLUSTER),
    specFor: () => ({
      image: env.VLLM_IMAGE,
      gpus: env.VLLM_GPUS,
      replicas: env.VLLM_MIN_REPLICAS,
      maxReplicas: env.VLLM_MAX_REPLICAS,
      modelVolumeClaim: env.VLLM_MODELS_PVC,
      adaptersVolumeClaim: env.VLLM_ADAPTERS_PVC,
      maxLoras: env.VLLM_MAX_LORAS,
      maxLoraRank: env.VLLM_MAX_LORA_RANK,
      targetWaitingPerPod: env.VLLM_TARGET_WAITING_PER_POD,
      autoscaler: env.VLLM_AUTOSCALER,
      apiKeySecret: env.VLLM_API_KEY_REF,
    }),
    apiKey: env.SERVING_API_KEY,
    adapterDelivery: {
      image: env.K8S_RUNTIME_IMAGE,
      imagePullPolicy: env.K8S_IMAGE_PULL_POLICY,
      artifactsVolumeClaim: env.K8S_ARTIFACTS_PVC,
      adaptersVolumeClaim: env.VLLM_ADAPTERS_PVC,
      artifactsRoot: env.K8S_ARTIFACTS_DIR,
    },
  });
}

export const rolloutProcessors: TProcessorRegistration[] = [
  {
    queue: ROLLOUT_QUEUE_NAME,
    concurrency: 1,
    async onStart(ctx) {
      const env = loadWorkerEnv();
      // The HTTPRoute's backends are the vLLM Services of the kubernetes serving backend; local serve has none.
      if (Boolean(env.LORAPLANE_JUDGE_URL) !== Boolean(env.LORAPLANE_JUDGE_MODEL)) {
        throw new Error("LORAPLANE_JUDGE_URL and LORAPLANE_JUDGE_MODEL go together: set both (the LLM judge of shadow evaluation) or neither");
      }
      if (env.ROLLOUT_TRAFFIC_PROVIDER === "gateway-api" && env.EXECUTOR !== "kubernetes") {
        throw new Error("ROLLOUT_TRAFFIC_PROVIDER=gateway-api needs EXECUTOR=kubernetes (variants must be served by Kubernetes Services)");
      }
      const opts = ctx.queue.runs.opts;
      const rollout = createRolloutQueue({ connection: opts.connection, ...(opts.prefix ? { prefix: opts.prefix } : {}) });
      queues.set(ctx, rollout);
      await rollout.queue.setGlobalConcurrency(1);
      await rollout.scheduleTicks(ROLLOUT_TICK_MS);
      ctx.signal.addEventListener("abort", () => void rollout.close(), { once: true });
    },
    async process(ctx, job) {
      const data = parseRolloutJob(job);
      const c = controllerFor(ctx);
      if (data.kind === "tick") return c.tick();
      await c.analyse(data.deploymentId);
      return { analysed: data.deploymentId };
    },
  },
];
