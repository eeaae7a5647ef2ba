// Human review of a run's eval samples, and the threshold override of a gate-blocked run. A review-gated run waits at
// the gate in `awaiting_review`; the review that meets the quota moves the gate stage back to `queued` in its own
// transaction (under the run's row lock, so of two concurrent final reviews exactly one does it), and a nudge after the
// commit gets a worker to evaluate. A crash between the two leaves a queued stage, which the reconciler enqueues.
import {
  allowedRunActions,
  gateThresholds,
  overrideProblems,
  planStages,
  reviewProgress,
  transition,
  ZGateOverride,
  ZGateOverrideInput,
  ZPipelineSpec,
  type TGateOverride,
  type TGateOverrideInput,
  type TReviewProgress,
  type TStageName,
} from "@loraplane/core";
import { countEvalSampleReviews, findLatestStageRun, findRunById, lockRunRow, setEvalSampleReview, updateRunIf, updateStageRunIf, type DbOrTx, type Prisma } from "@loraplane/db";
import { z } from "zod";
import { recordAudit, type TActor, type TRequestMeta } from "../audit/record-audit.ts";
import { ConflictError, NotFoundError, parseInput, ValidationError } from "../errors.ts";
import type { TRunDeps } from "./deps.ts";
import { planRetry, requeueRunAt } from "./retry-run.ts";

type TRun = NonNullable<Awaited<ReturnType<typeof findRunById>>>;

export interface TRunReviewState extends TReviewProgress {
  /** The spec requires review before the gate (gate.review.required). */
  required: boolean;
  minReviewed: number | "all" | null;
  good: number;
  /** Share of reviewed samples marked good, or null before any review. */
  passRate: number | null;
  /** The run is waiting for this review now. */
  awaiting: boolean;
}

/** The overrides stored on a run (entries that no longer parse are ignored rather than failing the gate). */
export function storedOverrides(run: { gateOverrides: unknown }): (TGateOverride & { reason?: string; byId?: string | null; at?: string })[] {
  const parsed = z.array(ZGateOverride.extend({ reason: z.string().optional(), byId: z.string().nullable().optional(), at: z.string().optional() })).safeParse(run.gateOverrides ?? []);
  return parsed.success ? parsed.data : [];
}

async function reviewState(db: DbOrTx, run: TRun): Promise<TRunReviewState> {
  const spec = ZPipelineSpec.safeParse(run.resolvedSpec);
  const review = spec.success ? spec.data.gate?.review : undefined;
  const counts = await countEvalSampleReviews(db, run.id);
  const progress = review?.required ? reviewProgress(review, counts) : { needed: 0, reviewed: counts.reviewed, total: counts.total, met: true };
  return {
    ...progress,
    required: review?.required ?? false,
    minReviewed: review?.required ? review.minReviewed : null,
    good: counts.good,
    passRate: counts.reviewed === 0 ? null : counts.good / counts.reviewed,
    awaiting: run.status === "awaiting_review",
  };
}

export async function getRunReview(db: DbOrTx, runId: string): Promise<TRunReviewState> {
  const run = await findRunById(db, runId);
  if (!run) throw new NotFoundError(`run ${runId} not found`);
  return reviewState(db, run);
}

const ZReviewInput = z.object({ runId: z.string().min(1), index: z.number().int().min(0), review: z.enum(["good", "bad"]) });

/**
 * Marks one sample good or bad. Returns the review progress and whether this review released the gate (true for
 * exactly one review per wait, however many arrive at once).
 */
export async function reviewRunSample(deps: TRunDeps, input: { runId: string; index: number; review: "good" | "bad"; actor: TActor; meta?: TRequestMeta }) {
  const { runId, index, review } = parseInput(ZReviewInput, { runId: input.runId, index: input.index, review: input.review });
  if (!input.actor.userId) throw new ValidationError("a review needs a person: sign in or use a personal token");
  const result = await deps.db.$transaction(async (tx) => {
    if (!(await lockRunRow(tx, runId))) throw new NotFoundError(`run ${runId} not found`);
    if (!(await setEvalSampleReview(tx, runId, index, review, input.actor.userId!))) throw new NotFoundError(`run ${runId} has no sample ${index}`);
    const run = (await findRunById(tx, runId))!;
    await recordAudit(tx, input.actor, { projectId: run.projectId, action: "sample.review", subjectType: "run", subjectId: runId, after: { index, review } }, input.meta);
    const state = await reviewState(tx, run);
    if (!state.awaiting || !state.met || run.currentStage !== "gate") return { state, gate: null };
    const gate = await findLatestStageRun(tx, runId, "gate");
    if (!gate) return { state, gate: null };
    const t = transition({ status: run.status, stage: "gate", attempt: gate.attempt, stages: planStages(ZPipelineSpec.parse(run.resolvedSpec)) }, { type: "review_completed" });
    if (!t.ok) return { state, gate: null };
    // Both compare-and-sets hold under the row lock; a worker that looked at the waiting gate meanwhile loses its own.
    if (!(await updateStageRunIf(tx, gate.id, ["waiting"], { status: "queued" }))) return { state, gate: null };
    if (!(await updateRunIf(tx, runId, ["awaiting_review"], { status: "running" }))) throw new ConflictError(`run #${run.number} changed while reviewing; try again`);
    await recordAudit(tx, input.actor, { projectId: run.projectId, action: "run.review_completed", subjectType: "run", subjectId: runId, after: { reviewed: state.reviewed, needed: state.needed, total: state.total, gateAttempt: gate.attempt } }, input.meta);
    return { state: { ...state, awaiting: false }, gate: { attempt: gate.attempt } };
  });
  if (result.gate) await deps.queue.nudgeRun({ runId, reason: `review-gate-${result.gate.attempt}` }).catch(() => undefined);
  return { index, review, progress: result.state, gateTriggered: result.gate !== null };
}

const ZOverrideRequest = z.object({ runId: z.string().min(1) });

/**
 * Changes thresholds of one gate-blocked run's gate (this run only; the pipeline's spec is untouched) and evaluates
 * the gate again as a new attempt. Audited with the reason and the old and new thresholds. The route allows it to
 * admins and approvers only.
 */
export async function overrideGate(deps: TRunDeps, input: { runId: string; actor: TActor; meta?: TRequestMeta } & TGateOverrideInput) {
  const { runId } = parseInput(ZOverrideRequest, { runId: input.runId });
  const body = parseInput(ZGateOverrideInput, { thresholds: input.thresholds, reason: input.reason });
  const run = await findRunById(deps.db, runId);
  if (!run) throw new NotFoundError(`run ${runId} not found`);
  const action = allowedRunActions({ status: run.status, stage: run.currentStage as TStageName | null }).override;
  if (!action.allowed) throw new ConflictError(`cannot override the gate of run #${run.number}: ${action.reason}`);
  const spec = ZPipelineSpec.parse(run.resolvedSpec);
  const existing = storedOverrides(run);
  const before = gateThresholds(spec, existing);
  const problems = overrideProblems(before, body.thresholds);
  if (problems.length) throw new ValidationError(`${problems[0]!.path}: ${problems[0]!.message}`, problems);
  const at = new Date().toISOString();
  const merged = [...existing.filter((o) => !body.thresholds.some((n) => n.metric === o.metric)), ...body.thresholds.map((o) => ({ ...o, reason: body.reason, byId: input.actor.userId, at }))];
  const after = gateThresholds(spec, merged);
  const plan = await planRetry(deps.db, run);
  if (!plan.ok) throw new ConflictError(`cannot re-gate run #${run.number}: ${plan.error}`);
  const changed = (list: typeof before) => list.filter((t) => body.thresholds.some((o) => o.metric === t.metric)).map(({ metric, comparator, value, blocking }) => ({ metric, comparator, value, blocking }));

  const ok = await deps.db.$transaction(async (tx) => {
    if (!(await requeueRunAt(tx, run, plan.stage, plan.attempt, { gateOverrides: merged as unknown as Prisma.InputJsonValue }))) return false;
    await recordAudit(
      tx,
      input.actor,
      { projectId: run.projectId, action: "run.gate_override", subjectType: "run", subjectId: runId, before: { status: run.status, thresholds: changed(before) }, after: { thresholds: changed(after), reason: body.reason, stage: plan.stage, attempt: plan.attempt } },
      input.meta,
    );
    return true;
  });
  if (!ok) throw new ConflictError(`run #${run.number} changed while overriding; try again`);
  await deps.queue.enqueueStage({ runId, stage: plan.stage, attempt: plan.attempt }).catch(() => undefined);
  return { run: { id: run.id, number: run.number, status: "queued" as const }, stage: plan.stage, attempt: plan.attempt, thresholds: { before: changed(before), after: changed(after) } };
}
