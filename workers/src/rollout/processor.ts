// Registers the rollout controller as a BullMQ consumer of the rollout queue. Ticks come from a job scheduler and
// run one at a time across the whole cluster (global concurrency 1), so two workers never act on one deployment.
import path from "node:path";
import { loadWorkerEnv } from "@loraplane/config";
import { ROLLOUT_QUEUE_NAME, createRolloutQueue, parseRolloutJob, type TRolloutQueue } from "@loraplane/queue";
import type { TEngineContext } from "../engine/context.ts";
import type { TProcessorRegistration } from "../processors/types.ts";
import { KubeConfig } from "@kubernetes/client-node";
import { createKubernetesServingBackend } from "../serving/kubernetes.ts";
import { createLocalServingBackend } from "../serving/local.ts";
import { createRolloutController, type TRolloutController } from "./controller.ts";

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
      deps: { db: ctx.db, queue: ctx.queue, ...(rollout ? { rollout } : {}) },
      backends: {
        local: createLocalServingBackend({ python: path.resolve(env.GPU_RUNTIME_PYTHON), dataDir: env.LORAPLANE_DATA_DIR }),
        ...(env.EXECUTOR === "kubernetes" ? { kubernetes: kubernetesBackend(env.K8S_IN_CLUSTER) } : {}),
      },
      log: ctx.log.child({ component: "rollout" }),
      signal: ctx.signal,
    });
    controllers.set(ctx, controller);
  }
  return controller;
}

/** Cluster defaults; deploy/kubernetes/vllm/README.md lists the PVCs and the image they expect. */
function kubernetesBackend(inCluster: boolean) {
  const kubeConfig = new KubeConfig();
  if (inCluster) kubeConfig.loadFromCluster();
  else kubeConfig.loadFromDefault();
  return createKubernetesServingBackend({
    kubeConfig,
    specFor: () => ({
      image: "loraplane/vllm:latest",
      gpus: 1,
      replicas: 1,
      maxReplicas: 4,
      modelVolumeClaim: "loraplane-models",
      adaptersVolumeClaim: "loraplane-adapters",
      maxLoras: 8,
      maxLoraRank: 64,
      targetWaitingPerPod: 4,
      autoscaler: "keda",
    }),
  });
}

export const rolloutProcessors: TProcessorRegistration[] = [
  {
    queue: ROLLOUT_QUEUE_NAME,
    concurrency: 1,
    async onStart(ctx) {
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
