// The run lifecycle as a pure function. Workers persist the returned state and carry out the effects; because a stale
// or duplicate event is rejected instead of applied twice, replaying events after a crash is harmless.
import type { TPipelineSpec } from "./spec.ts";

export const STAGES = ["prepare", "train", "eval", "gate", "register", "approve", "deploy", "rollout"] as const;
export type TStageName = (typeof STAGES)[number];
export type TRunStatus = "queued" | "running" | "waiting_approval" | "succeeded" | "failed" | "blocked" | "cancelled";
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
    if (status !== "failed" && status !== "cancelled") return reject(`only failed or cancelled runs can be retried (run is ${status})`);
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
      if (status !== "running" && status !== "waiting_approval") return reject(`run is ${status}`);
      return finish(state, "failed", event.reason);
    }
    case "gate_blocked": {
      if (status !== "running" || stage !== "gate") return reject(`gate_blocked while run is ${status} at ${stage}`);
      return finish(state, "blocked", event.reason);
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
