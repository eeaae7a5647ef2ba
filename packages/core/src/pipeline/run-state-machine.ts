// The run lifecycle as a pure function. Workers persist the returned state and carry out the effects; because a stale
// or duplicate event is rejected instead of applied twice, replaying events after a crash is harmless.
import type { TPipelineSpec } from "./spec.ts";

export const STAGES = ["prepare", "train", "eval", "gate", "register", "approve", "deploy", "rollout"] as const;
export type TStageName = (typeof STAGES)[number];
export type TRunStatus = "queued" | "running" | "waiting_approval" | "awaiting_review" | "succeeded" | "failed" | "blocked" | "cancelled";
export const TERMINAL_STATUSES: readonly TRunStatus[] = ["succeeded", "failed", "blocked", "cancelled"];
/** Stages whose work is an external workload (a process or a Kubernetes Job) rather than a database step. */
export const WORKLOAD_STAGES: readonly TStageName[] = ["train", "eval"];

export interface TRunState {
  status: TRunStatus;
  /** The stage in progress, or the one where the run stopped. */
  stage: TStageName | null;
  attempt: number;
  /** The stages this run goes through, in order (see planStages). */
  stages: readonly TStageName[];
  reason?: string | null;
}

export type TRunEvent =
  | { type: "start" }
  | { type: "stage_succeeded"; stage: TStageName }
  | { type: "stage_failed"; stage: TStageName; reason: string }
  | { type: "stage_timed_out"; stage: TStageName; reason: string }
  | { type: "gate_blocked"; reason: string }
  /** The gate needs human review first (spec gate.review.required): the run waits at the gate. */
  | { type: "review_requested" }
  /** The review quota was met: the waiting gate evaluates. */
  | { type: "review_completed" }
  | { type: "approval_requested" }
  | { type: "approved" }
  | { type: "rejected"; reason: string }
  | { type: "cancel"; reason?: string }
  | { type: "retry" };

export type TRunEffect =
  | { type: "enqueue_stage"; stage: TStageName; attempt: number }
  | { type: "cancel_workload"; stage: TStageName; attempt: number }
  | { type: "run_finished"; status: TRunStatus; reason: string | null };

export type TTransition =
  | { ok: true; state: TRunState; effects: TRunEffect[] }
  | { ok: false; error: string };

export function planStages(spec: Pick<TPipelineSpec, "deploy">): TStageName[] {
  const base: TStageName[] = ["prepare", "train", "eval", "gate", "register"];
  return spec.deploy ? [...base, "approve", "deploy", "rollout"] : base;
}

export function isTerminal(status: TRunStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

const reject = (error: string): TTransition => ({ ok: false, error });

function finish(state: TRunState, status: TRunStatus, reason: string | null, extra: TRunEffect[] = []): TTransition {
  return {
    ok: true,
    state: { ...state, status, reason },
    effects: [...extra, { type: "run_finished", status, reason }],
  };
}

export function transition(state: TRunState, event: TRunEvent): TTransition {
  const { status, stage, attempt } = state;
  if (event.type === "cancel") {
    if (isTerminal(status)) return reject(`run is already ${status}`);
    const effects: TRunEffect[] = stage && status !== "queued" ? [{ type: "cancel_workload", stage, attempt }] : [];
    return finish(state, "cancelled", event.reason ?? "cancelled by user", effects);
  }
  if (event.type === "retry") {
    // A gate-blocked run is retried by evaluating the gate again as a new attempt: with the reviews as they are now
    // (reviewers may have changed marks), any threshold override, and a wait for review if the quota is not met.
    // Eval and training are not repeated: their results would be the same inputs to the same gate.
    if (status === "blocked" && stage !== "gate") return reject(`a run blocked at ${stage ?? "its start"} cannot be retried (a rejected approval is final; trigger a new run)`);
    if (status !== "failed" && status !== "cancelled" && status !== "blocked") return reject(`only failed, cancelled or gate-blocked runs can be retried (run is ${status})`);
    const at = stage ?? state.stages[0];
    if (!at) return reject("run has no stages");
    // A retry repeats the stage where the run stopped as a new attempt; finished stages are not repeated.
    const next = stage ? attempt + 1 : 1;
    return {
      ok: true,
      state: { ...state, status: "running", stage: at, attempt: next, reason: null },
      effects: [{ type: "enqueue_stage", stage: at, attempt: next }],
    };
  }
  if (isTerminal(status)) return reject(`run is already ${status}`);

  switch (event.type) {
    case "start": {
      if (status !== "queued") return reject(`run already started (${status})`);
      const first = state.stages[0];
      if (!first) return reject("run has no stages");
      return {
        ok: true,
        state: { ...state, status: "running", stage: first, attempt: 1 },
        effects: [{ type: "enqueue_stage", stage: first, attempt: 1 }],
      };
    }
    case "stage_succeeded": {
      if (status !== "running" || event.stage !== stage) return reject(`stale event: ${event.stage} succeeded but run is ${status} at ${stage}`);
      const index = state.stages.indexOf(event.stage);
      const next = state.stages[index + 1];
      if (!next) return finish({ ...state }, "succeeded", null);
      return {
        ok: true,
        state: { ...state, stage: next, attempt: 1 },
        effects: [{ type: "enqueue_stage", stage: next, attempt: 1 }],
      };
    }
    case "stage_failed":
    case "stage_timed_out": {
      if (event.stage !== stage) return reject(`stale event: ${event.stage} failed but run is at ${stage}`);
      if (status !== "running" && status !== "waiting_approval" && status !== "awaiting_review") return reject(`run is ${status}`);
      return finish(state, "failed", event.reason);
    }
    case "gate_blocked": {
      if (status !== "running" || stage !== "gate") return reject(`gate_blocked while run is ${status} at ${stage}`);
      return finish(state, "blocked", event.reason);
    }
    case "review_requested": {
      if (status !== "running" || stage !== "gate") return reject(`review requested while run is ${status} at ${stage}`);
      return { ok: true, state: { ...state, status: "awaiting_review" }, effects: [] };
    }
    case "review_completed": {
      if (status !== "awaiting_review" || stage !== "gate") return reject(`run is not awaiting review (${status})`);
      return { ok: true, state: { ...state, status: "running" }, effects: [{ type: "enqueue_stage", stage: "gate", attempt }] };
    }
    case "approval_requested": {
      if (status !== "running" || stage !== "approve") return reject(`approval requested while run is ${status} at ${stage}`);
      return { ok: true, state: { ...state, status: "waiting_approval" }, effects: [] };
    }
    case "approved": {
      if (status !== "waiting_approval") return reject(`run is not waiting for approval (${status})`);
      return transition({ ...state, status: "running" }, { type: "stage_succeeded", stage: "approve" });
    }
    case "rejected": {
      if (status !== "waiting_approval") return reject(`run is not waiting for approval (${status})`);
      return finish(state, "blocked", event.reason);
    }
  }
}

export type TRunAction = "cancel" | "retry" | "override" | "review";
/** The project role each action needs (routes declare it from here; the UI hides what the viewer's role cannot do). */
export const RUN_ACTION_ROLES = { cancel: "engineer", retry: "engineer", override: "approver", review: "engineer" } as const satisfies Record<TRunAction, string>;

export interface TRunActionState {
  status: TRunStatus;
  stage: TStageName | null;
  /** A cancel was asked for and is under way. */
  cancelRequested?: boolean;
}

/**
 * What can be done to a run now, each with why not: one function behind the run page's buttons and the services'
 * refusals, derived from `transition` so the two cannot disagree.
 */
export function allowedRunActions(run: TRunActionState): Record<TRunAction, { allowed: boolean; reason: string | null }> {
  const state: TRunState = { status: run.status, stage: run.stage, attempt: 1, stages: STAGES };
  const from = (t: TTransition) => (t.ok ? { allowed: true, reason: null } : { allowed: false, reason: t.error });
  const cancel = run.cancelRequested && !isTerminal(run.status) ? { allowed: false, reason: "a cancel is already under way" } : from(transition(state, { type: "cancel" }));
  const retry = from(transition(state, { type: "retry" }));
  const gateBlocked = run.status === "blocked" && run.stage === "gate";
  return {
    cancel,
    retry,
    // An override changes this run's thresholds and re-gates it: only for a run the gate blocked.
    override: gateBlocked ? retry : { allowed: false, reason: `only a run blocked by the evaluation gate can be re-gated with an override (run is ${run.status}${run.stage ? ` at ${run.stage}` : ""})` },
    // Reviews never move a run by themselves except at the quota; they are taken whenever samples exist.
    review: { allowed: true, reason: null },
  };
}
