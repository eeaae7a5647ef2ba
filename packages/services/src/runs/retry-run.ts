import { allowedRunActions, planStages, transition, ZPipelineSpec, type TStageName } from "@loraplane/core";
import { ensureStageRun, findLatestStageRun, findRunById, updateRunIf, type DbOrTx, type Prisma } from "@loraplane/db";
import { z } from "zod";
import { recordAudit, type TActor, type TRequestMeta } from "../audit/record-audit.ts";
import { ConflictError, NotFoundError, parseInput } from "../errors.ts";
import type { TRunDeps } from "./deps.ts";

type TRun = NonNullable<Awaited<ReturnType<typeof findRunById>>>;

/** The stage and attempt a retry starts, or the state machine's refusal (the same one the run page's buttons use). */
export async function planRetry(db: DbOrTx, run: TRun): Promise<{ ok: true; stage: TStageName; attempt: number } | { ok: false; error: string }> {
  const action = allowedRunActions({ status: run.status, stage: run.currentStage as TStageName | null }).retry;
  if (!action.allowed) return { ok: false, error: action.reason! };
  const stages = planStages(ZPipelineSpec.parse(run.resolvedSpec));
  const stage = (run.currentStage as TStageName | null) ?? stages[0]!;
  const latest = await findLatestStageRun(db, run.id, stage);
  const t = transition({ status: run.status, stage, attempt: latest?.attempt ?? 0, stages }, { type: "retry" });
  return t.ok ? { ok: true, stage, attempt: t.state.attempt } : { ok: false, error: t.error };
}

/**
 * Moves a stopped run back to `queued` at `stage` as a new attempt, in the caller's transaction; false when the run
 * changed status meanwhile (another retry or override won).
 */
export async function requeueRunAt(tx: DbOrTx, run: TRun, stage: TStageName, attempt: number, extra: { gateOverrides?: Prisma.InputJsonValue } = {}): Promise<boolean> {
  if (!(await updateRunIf(tx, run.id, [run.status], { status: "queued", currentStage: stage, error: null, finishedAt: null, cancelRequestedAt: null, ...extra }))) return false;
  await ensureStageRun(tx, run.id, stage, attempt);
  return true;
}

/**
 * Resumes a failed or cancelled run at the stage where it stopped, as that stage's next attempt. Stages that already
 * succeeded (a finished training, say) are not repeated. A gate-blocked run evaluates its gate again (see `transition`).
 */
export async function retryRun(deps: TRunDeps, input: { runId: string; actor: TActor; meta?: TRequestMeta }) {
  const { runId } = parseInput(z.object({ runId: z.string().min(1) }), { runId: input.runId });
  const run = await findRunById(deps.db, runId);
  if (!run) throw new NotFoundError(`run ${runId} not found`);
  const plan = await planRetry(deps.db, run);
  if (!plan.ok) throw new ConflictError(`cannot retry run #${run.number}: ${plan.error}`);
  const { stage, attempt } = plan;

  const ok = await deps.db.$transaction(async (tx) => {
    if (!(await requeueRunAt(tx, run, stage, attempt))) return false;
    await recordAudit(tx, input.actor, { projectId: run.projectId, action: "run.retry", subjectType: "run", subjectId: runId, before: { status: run.status }, after: { stage, attempt } }, input.meta);
    return true;
  });
  if (!ok) throw new ConflictError(`run #${run.number} changed while retrying; try again`);
  await deps.queue.enqueueStage({ runId, stage, attempt }).catch(() => undefined);
  return { run: { id: run.id, number: run.number, status: "queued" as const }, stage, attempt };
}
