// The worker process, assembled: BullMQ consumers for every registered queue, the reconciler loop, health and
// metrics, and an ordered shutdown. main.ts builds it from the environment; tests build it with their own options.
import type { Server } from "node:http";
import type { Db } from "@loraplane/db";
import { createPipelineQueue, type TPipelineQueue } from "@loraplane/queue";
import { Worker, type ConnectionOptions } from "bullmq";
import { Redis } from "ioredis";
import type { Logger } from "pino";
import type { TEngineContext, TEngineOptions } from "./engine/context.ts";
import { reconcileAll } from "./engine/reconcile.ts";
import type { TExecutor } from "./executors/types.ts";
import { startHealthServer } from "./observability/health.ts";
import { createWorkerMetrics } from "./observability/metrics.ts";
import { processors as defaultProcessors } from "./processors/index.ts";
import type { TProcessorRegistration } from "./processors/types.ts";
import { startWebhookDeliveryLoop, type TWebhookLoop } from "./webhooks/delivery-loop.ts";
import { purgeExpiredInteractions, type TWebhookDeliveryOptions } from "@loraplane/services";

export interface TWorkerAppOptions {
  db: Db;
  redisUrl: string;
  prefix?: string;
  executor: TExecutor;
  log: Logger;
  concurrency: number;
  engine: TEngineOptions;
  reconcileIntervalMs: number;
  /** How long a job's lock lives without renewal: how soon another worker takes over from a dead one. */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  health?: { port: number; host: string; stuckAfterMs?: number };
  processors?: TProcessorRegistration[];
  onLaunch?: TEngineContext["onLaunch"];
  shutdownTimeoutMs?: number;
  /** Outbound webhook delivery (needs the secret key that sealed the subscriptions' secrets); off when absent. */
  webhooks?: TWebhookDeliveryOptions & { intervalMs: number };
  /** How often stored gateway interactions past their environment's retention are deleted (default hourly). */
  interactionRetentionIntervalMs?: number;
}

export interface TWorkerApp {
  ctx: TEngineContext;
  queue: TPipelineQueue;
  healthServer: Server | null;
  webhooks: TWebhookLoop | null;
  reconcileNow(): Promise<void>;
  stop(): Promise<void>;
}

export async function startWorkerApp(o: TWorkerAppOptions): Promise<TWorkerApp> {
  const connection: ConnectionOptions = { url: o.redisUrl, maxRetriesPerRequest: null };
  const queue = createPipelineQueue({ connection, ...(o.prefix ? { prefix: o.prefix } : {}) });
  const metrics = createWorkerMetrics();
  const abort = new AbortController();
  const ctx: TEngineContext = { db: o.db, queue, executor: o.executor, log: o.log, metrics, options: o.engine, signal: abort.signal, ...(o.onLaunch ? { onLaunch: o.onLaunch } : {}) };
  const registrations = o.processors ?? defaultProcessors;
  let lastJobStartedAt = Date.now();
  let active = 0;
  let capacity = 0;

  const workers = registrations.map((reg) => {
    const concurrency = reg.concurrency ?? o.concurrency;
    capacity += concurrency;
    const worker = new Worker(
      reg.queue,
      async (job) => {
        lastJobStartedAt = Date.now();
        active++;
        try {
          const result = await reg.process(ctx, job);
          metrics.jobs.inc({ queue: reg.queue, outcome: "completed" });
          return result;
        } catch (error) {
          metrics.jobs.inc({ queue: reg.queue, outcome: "failed" });
          o.log.error({ err: error, queue: reg.queue, jobId: job.id }, "job failed");
          throw error;
        } finally {
          active--;
        }
      },
      {
        connection,
        ...(o.prefix ? { prefix: o.prefix } : {}),
        concurrency,
        lockDuration: o.lockDurationMs ?? 30_000,
        stalledInterval: o.stalledIntervalMs ?? 30_000,
        // Stage jobs are resumable (they re-attach to their workload), so a job that stalls many times is still fine.
        maxStalledCount: 100,
      },
    );
    worker.on("error", (error) => o.log.error({ err: error, queue: reg.queue }, "worker error"));
    return worker;
  });
  for (const reg of registrations) await reg.onStart?.(ctx);

  let reconciling: Promise<void> | null = null;
  const reconcileNow = () => {
    reconciling ??= reconcileAll(ctx).finally(() => {
      reconciling = null;
    });
    return reconciling;
  };
  // Right away at start: whatever was running before a restart is picked up without waiting for an interval.
  void reconcileNow().catch((error: unknown) => o.log.error({ err: error }, "reconcile failed"));
  const timer = setInterval(() => void reconcileNow().catch((error: unknown) => o.log.error({ err: error }, "reconcile failed")), o.reconcileIntervalMs);

  const webhooks = o.webhooks ? startWebhookDeliveryLoop(o.db, o.log, o.webhooks) : null;

  // Feedback-data retention: one DELETE per environment's window; every worker may run it (it is idempotent).
  const purgeInteractions = () =>
    purgeExpiredInteractions(o.db)
      .then((n) => {
        if (n > 0) o.log.info({ deleted: n }, "deleted interactions past their retention");
      })
      .catch((error: unknown) => o.log.error({ err: error }, "interaction retention failed"));
  void purgeInteractions();
  const retentionTimer = setInterval(() => void purgeInteractions(), o.interactionRetentionIntervalMs ?? 3_600_000);
  retentionTimer.unref();

  const healthRedis = new Redis(o.redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true });
  const healthServer = o.health
    ? await startHealthServer(o.health.port, o.health.host, {
        checkDb: async () => {
          await o.db.$queryRawUnsafe("SELECT 1");
        },
        checkRedis: async () => {
          await healthRedis.ping();
        },
        queues: [queue.stages, queue.runs],
        lastJobStartedAt: () => lastJobStartedAt,
        hasFreeSlots: () => active < capacity,
        stuckAfterMs: o.health.stuckAfterMs ?? 120_000,
        registry: metrics.registry,
        setWaiting: (name, n) => metrics.queueWaiting.set({ queue: name }, n),
      })
    : null;

  let stopping: Promise<void> | null = null;
  const stop = () => {
    stopping ??= (async () => {
      const deadline = new Promise<void>((resolve) => setTimeout(resolve, o.shutdownTimeoutMs ?? 30_000).unref());
      const ordered = (async () => {
        // 1. take no new work; 2. watchers release their workloads (they keep running, another worker re-attaches);
        // 3. wait for in-flight jobs; 4. close queues and connections.
        clearInterval(timer);
        clearInterval(retentionTimer);
        abort.abort();
        await Promise.all(workers.map((w) => w.close()));
        await reconciling?.catch(() => undefined);
        await webhooks?.stop();
        await queue.close();
        healthServer?.close();
        healthRedis.disconnect();
      })();
      await Promise.race([ordered, deadline]);
    })();
    return stopping;
  };
  return { ctx, queue, healthServer, webhooks, reconcileNow, stop };
}
