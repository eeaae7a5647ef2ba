// The reconciler: Postgres says what should be happening, Redis may have lost it (flushed, restored from an old
// snapshot, a job removed by hand). For every active run it makes sure the current stage has a live job, re-checks
// waiting stages, and stops workloads of runs cancelled while nobody was watching them.
import { isTerminal, planStages, ZPipelineSpec, type TStageName } from "@loraplane/core";
import { ensureStageRun, findLatestStageRun, findRunById, listActiveRunIds, listOrphanedRunningStages, updateStageRunIf } from "@loraplane/db";
import { stageJobId, type TStageJob } from "@loraplane/queue";
import { advanceRunningSweeps } from "@loraplane/services";
import type { TEngineContext } from "./context.ts";
import { processStageJob } from "./stage-runner.ts";

/** Adds the stage job unless Redis already has it waiting or running; returns whether it had to. */
export async function ensureStageJob(ctx: TEngineContext, job: TStageJob): Promise<boolean> {
  const existing = await ctx.queue.stages.getJob(stageJobId(job));
  if (existing) {
    const state = await existing.getState();
    if (state !== "completed" && state !== "failed" && state !== "unknown") return false;
    await existing.remove().catch(() => undefined);
  }
  await ctx.queue.enqueueStage(job);
  return true;
}

export async function reconcileRun(ctx: TEngineContext, runId: string): Promise<string> {
  const run = await findRunById(ctx.db, runId);
  if (!run) return "run deleted";
  if (isTerminal(run.status)) return `run is ${run.status}`;
  const spec = ZPipelineSpec.safeParse(run.resolvedSpec);
  const stage = (run.currentStage as TStageName | null) ?? (spec.success ? planStages(spec.data)[0]! : "prepare");
  const row = (await findLatestStageRun(ctx.db, runId, stage)) ?? (await ensureStageRun(ctx.db, runId, stage, 1));
  switch (row.status) {
    case "pending":
    case "queued":
    case "running": {
      const requeued = await ensureStageJob(ctx, { runId, stage, attempt: row.attempt });
      if (requeued) {
        ctx.metrics.reconciled.inc();
        ctx.log.warn({ runId, stage, attempt: row.attempt }, "reconciler re-enqueued a stage job that Redis did not have");
      }
      return requeued ? "requeued" : "ok";
    }
    case "waiting":
      // Approvals and rollouts finish elsewhere; look again now.
      return processStageJob(ctx, { runId, stage, attempt: row.attempt });
    default:
      return `stage ${row.status}`;
  }
}

/** Workloads still marked running for runs that ended (cancelled while no worker watched): stop them. */
export async function stopOrphanedWorkloads(ctx: TEngineContext): Promise<number> {
  const orphans = await listOrphanedRunningStages(ctx.db);
  for (const o of orphans) {
    const job = await ctx.queue.stages.getJob(stageJobId({ runId: o.runId, stage: o.stage, attempt: o.attempt }));
    if (job && (await job.getState()) === "active") continue; // its watcher will stop it
    if (o.stage === "train" || o.stage === "eval") await ctx.executor.cancel(ctx.executor.handleFor({ runId: o.runId, stage: o.stage, attempt: o.attempt }));
    await updateStageRunIf(ctx.db, o.id, ["running", "waiting", "queued", "pending"], { status: "cancelled", finishedAt: new Date(), error: `run ${o.runStatus}` });
  }
  return orphans.length;
}

export async function reconcileAll(ctx: TEngineContext): Promise<void> {
  for (const { id } of await listActiveRunIds(ctx.db)) {
    try {
      await reconcileRun(ctx, id);
    } catch (error) {
      ctx.log.error({ err: error, runId: id }, "reconcile failed");
    }
  }
  await stopOrphanedWorkloads(ctx).catch((error: unknown) => ctx.log.error({ err: error }, "stopping orphaned workloads failed"));
  // Sweeps: fill free slots from what Postgres says, whatever event was missed (a crash between a run's end and its trigger).
  await advanceRunningSweeps(ctx, (sweepId, error) => ctx.log.error({ err: error, sweepId }, "advancing a sweep failed")).catch((error: unknown) =>
    ctx.log.error({ err: error }, "listing running sweeps failed"),
  );
}
