// Runs one (run, stage, attempt) to an outcome and moves the run along. Postgres is the record: every step is a
// compare-and-set on the stage or run status, so a duplicate job, a job re-delivered after a crash, or two workers
// racing end in exactly one transition.
import { isTerminal, planStages, transition, ZPipelineSpec, type TPipelineSpec, type TRunState, type TStageName } from "@loraplane/core";
import {
  claimStageRun,
  enqueueWebhookDeliveries,
  ensureStageRun,
  findRunById,
  revokeRunTokens,
  updateRunIf,
  updateStageRunIf,
  type DbOrTx,
  type Prisma,
  type TRunRow,
  type TStageRow,
} from "@loraplane/db";
import type { TStageJob } from "@loraplane/queue";
import { advanceSweep, contextFromTraceparent, isServiceError, withSpan } from "@loraplane/services";
import type { TEngineContext } from "./context.ts";
import { runApprove, runDeploy, runGate, runPrepare, runRegister, runRollout } from "./inline-stages.ts";
import type { TStageOutcome } from "./outcome.ts";
import { runWorkloadStage } from "./workload-stage.ts";

const FINISHED_STAGE = new Set(["succeeded", "failed", "cancelled", "skipped"]);
/** A stage's outcome moves the run on from running or from waiting on a person (approval, review). */
const WAITING_OR_RUNNING: TRunRow["status"][] = ["running", "waiting_approval", "awaiting_review"];

function handlerFor(stage: TStageName) {
  switch (stage) {
    case "prepare":
      return runPrepare;
    case "train":
    case "eval":
      return (ctx: TEngineContext, run: TRunRow, spec: TPipelineSpec, row: TStageRow) => runWorkloadStage(ctx, run, spec, row);
    case "gate":
      return runGate;
    case "register":
      return runRegister;
    case "approve":
      return runApprove;
    case "deploy":
      return runDeploy;
    case "rollout":
      return runRollout;
  }
}

export async function processStageJob(ctx: TEngineContext, job: TStageJob): Promise<string> {
  const { runId, stage, attempt } = job;
  // One statement takes the attempt (running) and puts the run on this stage, or says why not; see claimStageRun.
  const claim = await claimStageRun(ctx.db, runId, stage, attempt);
  const current = claim.run;
  if (!current) return "run deleted";
  if (claim.superseded) return `stale: attempt ${attempt} superseded by a later attempt`;
  if (current.currentStage && current.currentStage !== stage) return `stale: run is at ${current.currentStage}`;
  if (isTerminal(current.status)) return `run is ${current.status}`;
  // A racing worker created the attempt in this very instant: it owns it.
  if (!claim.stage) return "claimed by another worker";
  const row = claim.stage;

  // One span per stage attempt, in the trace its trigger started (whichever worker, after any restart).
  const attributes = { "loraplane.run_id": runId, "loraplane.stage": stage, "loraplane.attempt": attempt };
  return withSpan(`stage ${stage}`, attributes, contextFromTraceparent(current.traceparent), async (span) => {
    if (FINISHED_STAGE.has(row.status)) return `stage already ${row.status}`;
    const parsed = ZPipelineSpec.safeParse(current.resolvedSpec);
    if (!parsed.success) {
      await finish(ctx, current, row, { status: "failed", reason: `stored spec is invalid: ${parsed.error.issues[0]?.message}` }, []);
      return "invalid spec";
    }
    const spec = parsed.data;
    const stages = planStages(spec);

    let outcome: TStageOutcome;
    try {
      outcome = await handlerFor(stage)(ctx, current, spec, row);
    } catch (error) {
      // A refusal from a service (bad state, missing row) is this stage's failure; anything else is infrastructure
      // (database, Redis) and is thrown so BullMQ retries the job with backoff.
      if (!isServiceError(error)) throw error;
      outcome = { status: "failed", reason: error.message };
    }
    await finish(ctx, current, row, outcome, stages);
    // A sibling run of a sweep frees a slot when it ends: trigger the next point now (the reconcile tick would too).
    if (current.sweepId) await advanceSweep(ctx, current.sweepId).catch((error: unknown) => ctx.log.error({ err: error, sweepId: current.sweepId }, "advancing the sweep failed"));
    span.setAttribute("loraplane.outcome", outcome.status);
    return outcome.status;
  });
}

/** Queues run.succeeded / run.failed / run.blocked webhooks with the status change (same transaction: never one without the other). */
function emitRunEvent(tx: DbOrTx, run: TRunRow, status: "succeeded" | "failed" | "blocked", reason: string | null): Promise<number> {
  return enqueueWebhookDeliveries(tx, run.projectId, `run.${status}`, `run.${status}.${run.id}`, {
    runId: run.id,
    runNumber: run.number,
    pipelineId: run.pipelineId,
    status,
    ...(reason ? { reason } : {}),
    ...(run.gitCommit ? { gitCommit: run.gitCommit } : {}),
  });
}

function runState(run: TRunRow, row: TStageRow, stages: readonly TStageName[]): TRunState {
  return { status: run.status, stage: row.stage, attempt: row.attempt, stages };
}

async function finish(ctx: TEngineContext, run: TRunRow, row: TStageRow, outcome: TStageOutcome, stages: readonly TStageName[]): Promise<void> {
  if (outcome.status === "released") {
    ctx.log.info({ runId: run.id, stage: row.stage, attempt: row.attempt }, "released workload at shutdown; another worker re-attaches");
    return;
  }
  const now = new Date();
  const durationS = row.startedAt ? (now.getTime() - row.startedAt.getTime()) / 1000 : 0;
  const result = "result" in outcome && outcome.result ? { result: outcome.result as Prisma.InputJsonValue } : {};
  let enqueue: TStageJob | null = null;

  await ctx.db.$transaction(async (tx) => {
    // The attempt is over unless it waits (approval, rollout): its workload's ingest token dies with it.
    if (outcome.status !== "waiting") await revokeRunTokens(tx, run.id, row.stage, row.attempt, now);
    switch (outcome.status) {
      case "succeeded": {
        if (!(await updateStageRunIf(tx, row.id, ["running", "waiting"], { status: "succeeded", finishedAt: now, error: null, ...result }))) return;
        await outcome.commit?.(tx);
        const fresh = await findRunById(tx, run.id);
        if (!fresh) return;
        const waited = fresh.status === "waiting_approval" || fresh.status === "awaiting_review";
        const t = transition(runState(waited ? { ...fresh, status: "running" } : fresh, row, stages), { type: "stage_succeeded", stage: row.stage });
        if (!t.ok) return;
        if (t.state.status === "succeeded") {
          if (await updateRunIf(tx, run.id, WAITING_OR_RUNNING, { status: "succeeded", finishedAt: now, error: null })) await emitRunEvent(tx, run, "succeeded", null);
        } else {
          const next = t.state.stage!;
          await updateRunIf(tx, run.id, WAITING_OR_RUNNING, { status: "running", currentStage: next });
          await ensureStageRun(tx, run.id, next, 1);
          enqueue = { runId: run.id, stage: next, attempt: 1 };
        }
        return;
      }
      case "waiting": {
        // Lost to a review that released the gate meanwhile (the row is queued again): leave the run as that left it.
        if (!(await updateStageRunIf(tx, row.id, ["running", "waiting"], { status: "waiting", ...result }))) return;
        if (row.stage === "approve") {
          const t = transition(runState(run, row, stages), { type: "approval_requested" });
          if (t.ok) await updateRunIf(tx, run.id, ["running"], { status: "waiting_approval" });
        }
        if (row.stage === "gate") {
          const t = transition(runState(run, row, stages), { type: "review_requested" });
          if (t.ok) await updateRunIf(tx, run.id, ["running"], { status: "awaiting_review" });
        }
        return;
      }
      case "failed":
      case "blocked": {
        if (!(await updateStageRunIf(tx, row.id, ["running", "waiting"], { status: "failed", finishedAt: now, error: outcome.reason, ...result }))) return;
        if (outcome.status === "blocked") await outcome.commit?.(tx);
        const status = outcome.status === "blocked" ? "blocked" : "failed";
        const reason = status === "blocked" ? outcome.reason : `${row.stage} failed: ${outcome.reason}`;
        if (await updateRunIf(tx, run.id, WAITING_OR_RUNNING, { status, error: reason, finishedAt: now })) await emitRunEvent(tx, run, status, reason);
        return;
      }
      case "cancelled": {
        await updateStageRunIf(tx, row.id, ["running", "waiting", "queued", "pending"], { status: "cancelled", finishedAt: now, error: "run cancelled" });
        return;
      }
    }
  });
  if (outcome.status !== "waiting") ctx.metrics.stageDuration.observe({ stage: row.stage, status: outcome.status }, durationS);
  ctx.log.info({ runId: run.id, stage: row.stage, attempt: row.attempt, outcome: outcome.status, ...(outcome.status === "failed" || outcome.status === "blocked" ? { reason: outcome.reason.split("\n")[0] } : {}) }, "stage finished");
  // After the commit: a crash right here leaves the next stage queued in Postgres, which the reconciler enqueues.
  if (enqueue) await ctx.queue.enqueueStage(enqueue);
}
