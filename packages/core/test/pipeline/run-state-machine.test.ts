import { describe, expect, it } from "vitest";
import { planStages, STAGES, transition, type TRunEvent, type TRunState, type TRunStatus } from "../../src/pipeline/run-state-machine.ts";

const full = planStages({ deploy: { endpointName: "x" } as never });
const state = (status: TRunStatus, stage: TRunState["stage"], attempt = 1): TRunState => ({ status, stage, attempt, stages: full });

function drive(events: TRunEvent[], from = state("queued", null)) {
  let s = from;
  for (const e of events) {
    const t = transition(s, e);
    if (!t.ok) throw new Error(t.error);
    s = t.state;
  }
  return s;
}

describe("planStages", () => {
  it("adds approve/deploy/rollout only when the spec deploys", () => {
    expect(planStages({ deploy: null })).toEqual(["prepare", "train", "eval", "gate", "register"]);
    expect(full).toEqual([...STAGES]);
  });
});

describe("transition", () => {
  it("walks every stage to succeeded, with an approval in between", () => {
    let s = drive([{ type: "start" }]);
    expect(s).toMatchObject({ status: "running", stage: "prepare", attempt: 1 });
    for (const stage of ["prepare", "train", "eval", "gate", "register"] as const) {
      const t = transition(s, { type: "stage_succeeded", stage });
      expect(t.ok).toBe(true);
      if (!t.ok) return;
      expect(t.effects).toEqual([{ type: "enqueue_stage", stage: full[full.indexOf(stage) + 1], attempt: 1 }]);
      s = t.state;
    }
    s = drive([{ type: "approval_requested" }], s);
    expect(s.status).toBe("waiting_approval");
    const approved = transition(s, { type: "approved" });
    expect(approved.ok && approved.effects).toEqual([{ type: "enqueue_stage", stage: "deploy", attempt: 1 }]);
    s = drive([{ type: "approved" }, { type: "stage_succeeded", stage: "deploy" }], s);
    const done = transition(s, { type: "stage_succeeded", stage: "rollout" });
    expect(done.ok && done.state.status).toBe("succeeded");
    expect(done.ok && done.effects).toEqual([{ type: "run_finished", status: "succeeded", reason: null }]);
  });

  it("a run without deploy succeeds after register", () => {
    const s: TRunState = { status: "running", stage: "register", attempt: 1, stages: planStages({ deploy: null }) };
    const t = transition(s, { type: "stage_succeeded", stage: "register" });
    expect(t.ok && t.state.status).toBe("succeeded");
  });

  it("rejects stale and duplicate stage events", () => {
    const s = state("running", "train");
    expect(transition(s, { type: "stage_succeeded", stage: "prepare" }).ok).toBe(false);
    expect(transition(s, { type: "stage_failed", stage: "eval", reason: "x" }).ok).toBe(false);
    expect(transition(state("queued", null), { type: "stage_succeeded", stage: "prepare" }).ok).toBe(false);
    expect(transition(state("running", "prepare"), { type: "start" }).ok).toBe(false);
  });

  describe.each(STAGES)("from stage %s", (stage) => {
    const running = state(stage === "approve" ? "waiting_approval" : "running", stage, 2);

    it("cancel stops the workload and ends cancelled", () => {
      const t = transition(running, { type: "cancel" });
      expect(t.ok).toBe(true);
      if (!t.ok) return;
      expect(t.state.status).toBe("cancelled");
      expect(t.effects).toEqual([
        { type: "cancel_workload", stage, attempt: 2 },
        { type: "run_finished", status: "cancelled", reason: "cancelled by user" },
      ]);
    });

    it.each(["stage_failed", "stage_timed_out"] as const)("%s ends failed with the reason", (type) => {
      const t = transition(running, { type, stage, reason: "boom" });
      expect(t.ok && t.state).toMatchObject({ status: "failed", reason: "boom", stage });
    });

    it("retry after failure repeats this stage as the next attempt", () => {
      const failed = drive([{ type: "stage_failed", stage, reason: "x" }], running);
      const t = transition(failed, { type: "retry" });
      expect(t.ok && t.state).toMatchObject({ status: "running", stage, attempt: 3, reason: null });
      expect(t.ok && t.effects).toEqual([{ type: "enqueue_stage", stage, attempt: 3 }]);
    });

    it("retry after cancel repeats this stage", () => {
      const cancelled = drive([{ type: "cancel" }], running);
      expect(transition(cancelled, { type: "retry" }).ok).toBe(true);
    });
  });

  it("cancel of a queued run has no workload to stop", () => {
    const t = transition(state("queued", null), { type: "cancel", reason: "nope" });
    expect(t.ok && t.effects).toEqual([{ type: "run_finished", status: "cancelled", reason: "nope" }]);
  });

  it.each(["succeeded", "failed", "blocked", "cancelled"] as const)("%s is terminal for every event except retry", (status) => {
    const s = state(status, "gate");
    for (const e of [{ type: "start" }, { type: "cancel" }, { type: "stage_succeeded", stage: "gate" }, { type: "approved" }, { type: "gate_blocked", reason: "x" }] as TRunEvent[]) {
      expect(transition(s, e).ok).toBe(false);
    }
    // At the gate, a blocked run is retried by re-evaluating its gate (review-gate.test.ts).
    expect(transition(s, { type: "retry" }).ok).toBe(status !== "succeeded");
    for (const e of [{ type: "review_requested" }, { type: "review_completed" }] as TRunEvent[]) expect(transition(s, e).ok).toBe(false);
  });

  it("gate blocks only at the gate", () => {
    expect(transition(state("running", "gate"), { type: "gate_blocked", reason: "rouge_l low" })).toMatchObject({ ok: true, state: { status: "blocked", reason: "rouge_l low" } });
    expect(transition(state("running", "eval"), { type: "gate_blocked", reason: "x" }).ok).toBe(false);
  });

  it("approval events only while waiting", () => {
    expect(transition(state("running", "approve"), { type: "approved" }).ok).toBe(false);
    expect(transition(state("running", "deploy"), { type: "approval_requested" }).ok).toBe(false);
    expect(transition(state("waiting_approval", "approve"), { type: "rejected", reason: "no" })).toMatchObject({ ok: true, state: { status: "blocked" } });
  });
});
