import type { Db } from "@loraplane/db";
import type { TPipelineQueue } from "@loraplane/queue";
import type { Logger } from "pino";
import type { TExecutor } from "../executors/types.ts";
import type { TWorkerMetrics } from "../observability/metrics.ts";

export interface TEngineOptions {
  /** How often a workload watcher polls output, exit status and cancellation. */
  pollMs: number;
  /** A workload with no event for this long is killed and its stage failed. */
  heartbeatTimeoutS: number;
  /** Log lines quoted in a failed stage's error. */
  logTailLines: number;
  /** Lifetime of a per-stage ingest token. */
  runTokenTtlS: number;
  publicUrl: string;
}

export interface TEngineContext {
  db: Db;
  queue: TPipelineQueue;
  executor: TExecutor;
  log: Logger;
  metrics: TWorkerMetrics;
  options: TEngineOptions;
  /** Aborted when the worker shuts down: watchers release their workloads instead of waiting for them. */
  signal: AbortSignal;
  /** Optional hook for benchmarks and tests: called right before an executor launch. */
  onLaunch?: (runId: string, stage: string, attempt: number) => void;
}
