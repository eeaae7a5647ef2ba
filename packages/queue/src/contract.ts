// The pipeline queues: names, payloads, job options and producers in one place. Postgres is the record of every run;
// a job only says "look at this run/stage now", so losing one is repaired by the reconciler and running one twice is
// harmless. Job ids are deterministic so a duplicate enqueue is a no-op while the first job is still known to Redis.
import { Queue, type ConnectionOptions, type DefaultJobOptions, type Job } from "bullmq";
import { STAGES } from "@loraplane/core";
import { z } from "zod";

export const QUEUE_NAMES = {
  /** One job per (run, stage, attempt): runs that stage to completion. */
  stages: "pipeline-stages",
  /** "Re-examine this run": approvals decided, deployments finished, reconciler nudges. */
  runs: "pipeline-runs",
} as const;
export type TQueueName = (typeof QUEUE_NAMES)[keyof typeof QUEUE_NAMES];

const id = z.string().min(1).max(64).regex(/^[A-Za-z0-9_-]+$/, "must be an id (letters, digits, '_' or '-')");

export const ZStageJob = z.object({
  runId: id,
  stage: z.enum(STAGES),
  attempt: z.number().int().positive(),
});
export type TStageJob = z.infer<typeof ZStageJob>;

export const ZRunJob = z.object({
  runId: id,
  /** Why the run is being looked at; part of the job id so distinct events are never merged. */
  reason: z.string().min(1).max(120).regex(/^[A-Za-z0-9_.-]+$/),
});
export type TRunJob = z.infer<typeof ZRunJob>;

export const PAYLOADS = {
  [QUEUE_NAMES.stages]: ZStageJob,
  [QUEUE_NAMES.runs]: ZRunJob,
} as const;

export const JOB_OPTIONS: Record<TQueueName, DefaultJobOptions> = {
  // A stage job that throws is an infrastructure problem (database or Redis down), not a workload failure —
  // workload failures are recorded on the StageRun and complete the job — so retry it with backoff.
  [QUEUE_NAMES.stages]: {
    attempts: 5,
    backoff: { type: "exponential", delay: 2000 },
    removeOnComplete: { age: 3600, count: 1000 },
    removeOnFail: { age: 7 * 24 * 3600 },
  },
  [QUEUE_NAMES.runs]: {
    attempts: 5,
    backoff: { type: "exponential", delay: 1000 },
    removeOnComplete: true,
    removeOnFail: { age: 7 * 24 * 3600 },
  },
};

// BullMQ rejects custom ids containing ':' (reserved for its own keys), so ids use '.'.
export const stageJobId = (j: TStageJob) => `stage.${j.runId}.${j.stage}.${j.attempt}`;
export const runJobId = (j: TRunJob) => `run.${j.runId}.${j.reason}`;

export interface TQueueOptions {
  connection: ConnectionOptions;
  /** BullMQ key prefix; tests use a unique one per file. */
  prefix?: string;
}

export interface TPipelineQueue {
  enqueueStage(job: TStageJob): Promise<string>;
  /** Asks a worker to re-examine a run (after an approval, a finished deployment, …). */
  nudgeRun(job: TRunJob): Promise<string>;
  readonly stages: Queue<TStageJob>;
  readonly runs: Queue<TRunJob>;
  close(): Promise<void>;
}

export function createPipelineQueue(options: TQueueOptions): TPipelineQueue {
  const common = { connection: options.connection, prefix: options.prefix };
  const stages = new Queue<TStageJob>(QUEUE_NAMES.stages, { ...common, defaultJobOptions: JOB_OPTIONS[QUEUE_NAMES.stages] });
  const runs = new Queue<TRunJob>(QUEUE_NAMES.runs, { ...common, defaultJobOptions: JOB_OPTIONS[QUEUE_NAMES.runs] });
  return {
    stages,
    runs,
    async enqueueStage(job) {
      const data = ZStageJob.parse(job);
      const added = await stages.add(`${data.stage}`, data, { jobId: stageJobId(data) });
      return added.id!;
    },
    async nudgeRun(job) {
      const data = ZRunJob.parse(job);
      const added = await runs.add("nudge", data, { jobId: runJobId(data) });
      return added.id!;
    },
    async close() {
      await Promise.all([stages.close(), runs.close()]);
    },
  };
}

export class InvalidJobPayloadError extends Error {
  override readonly name = "InvalidJobPayloadError";
}

/**
 * Consumer side: validates a job's data against its queue's schema before the handler sees it, so a malformed job
 * (old producer, hand-edited Redis) fails loudly with the field instead of corrupting a run.
 */
export function parseJob<N extends TQueueName>(queue: N, job: Pick<Job, "id" | "data">): z.infer<(typeof PAYLOADS)[N]> {
  const parsed = PAYLOADS[queue].safeParse(job.data);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(payload)"}: ${i.message}`).join("; ");
    throw new InvalidJobPayloadError(`job ${job.id} on ${queue} has an invalid payload: ${issues}`);
  }
  return parsed.data as z.infer<(typeof PAYLOADS)[N]>;
}
