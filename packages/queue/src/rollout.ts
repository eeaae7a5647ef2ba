// The rollout controller's queue. Postgres holds every deployment's state; a job only says "analyse now". A job
// scheduler ticks every few seconds so a breach is acted on within seconds even when no one nudges; on-demand jobs
// (after a manual action or an approval) carry deterministic ids so duplicates collapse.
import { Queue, type ConnectionOptions, type DefaultJobOptions, type Job } from "bullmq";
import { z } from "zod";

export const ROLLOUT_QUEUE_NAME = "rollout-control";

/** Analyse one deployment now (after a manual action, an approval, a backend becoming ready). */
export const ZRolloutDeploymentJob = z.object({
  kind: z.literal("deployment"),
  deploymentId: z.string().min(1).max(64).regex(/^[A-Za-z0-9_-]+$/, "must be an id"),
  reason: z.string().min(1).max(80).regex(/^[A-Za-z0-9_.-]+$/),
});

export const ZRolloutJob = z.discriminatedUnion("kind", [
  /** Analyse every deployment that is in flight. */
  z.object({ kind: z.literal("tick") }),
  ZRolloutDeploymentJob,
]);
export type TRolloutJob = z.infer<typeof ZRolloutJob>;

export const ROLLOUT_JOB_OPTIONS: DefaultJobOptions = {
  // A tick that throws (database down) is simply superseded by the next tick; one retry covers a blip.
  attempts: 2,
  backoff: { type: "fixed", delay: 1000 },
  removeOnComplete: true,
  removeOnFail: { age: 24 * 3600, count: 1000 },
};

export const rolloutJobId = (j: z.infer<typeof ZRolloutDeploymentJob>) => `rollout.${j.deploymentId}.${j.reason}`;

export interface TRolloutQueue {
  readonly queue: Queue<TRolloutJob>;
  /** Installs (or updates) the periodic tick; idempotent across worker replicas. */
  scheduleTicks(everyMs: number): Promise<void>;
  analyseNow(deploymentId: string, reason: string): Promise<string>;
  close(): Promise<void>;
}

export function createRolloutQueue(options: { connection: ConnectionOptions; prefix?: string }): TRolloutQueue {
  const queue = new Queue<TRolloutJob>(ROLLOUT_QUEUE_NAME, {
    connection: options.connection,
    prefix: options.prefix,
    defaultJobOptions: ROLLOUT_JOB_OPTIONS,
  });
  return {
    queue,
    async scheduleTicks(everyMs) {
      await queue.upsertJobScheduler("rollout-tick", { every: everyMs }, { name: "tick", data: { kind: "tick" } });
    },
    async analyseNow(deploymentId, reason) {
      const data = ZRolloutDeploymentJob.parse({ kind: "deployment", deploymentId, reason });
      const job = await queue.add("deployment", data, { jobId: rolloutJobId(data) });
      return job.id!;
    },
    async close() {
      await queue.close();
    },
  };
}

export function parseRolloutJob(job: Pick<Job, "id" | "data">): TRolloutJob {
  const parsed = ZRolloutJob.safeParse(job.data);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(payload)"}: ${i.message}`).join("; ");
    throw new Error(`job ${job.id} on ${ROLLOUT_QUEUE_NAME} has an invalid payload: ${issues}`);
  }
  return parsed.data;
}
