import { describe, expect, it } from "vitest";
import { allowedRunActions, gateThresholds, overrideProblems, planStages, resolveSpec, reviewProgress, transition, type TRunState } from "../../src/pipeline/index.ts";

const stages = planStages({ deploy: null });
const at = (status: TRunState["status"], stage: TRunState["stage"], attempt = 1): TRunState => ({ status, stage, attempt, stages });
const base = { name: "p", model: { name: "m", baseModel: "/models/x" }, dataset: { name: "d", version: "v1" } };

describe("review-gated runs in the state machine", () => {
  it("waits at the gate for review, then evaluates the same gate attempt", () => {
    const waiting = transition(at("running", "gate"), { type: "review_requested" });
    expect(waiting).toMatchObject({ ok: true, state: { status: "awaiting_review", stage: "gate" }, effects: [] });
    const released = transition(at("awaiting_review", "gate", 3), { type: "review_completed" });
    expect(released).toMatchObject({ ok: true, state: { status: "running", stage: "gate", attempt: 3 }, effects: [{ type: "enqueue_stage", stage: "gate", attempt: 3 }] });
  });

  it("refuses review events anywhere else, and twice", () => {
    expect(transition(at("running", "eval"), { type: "review_requested" }).ok).toBe(false);
    expect(transition(at("awaiting_review", "gate"), { type: "review_requested" }).ok).toBe(false);
    expect(transition(at("running", "gate"), { type: "review_completed" })).toEqual({ ok: false, error: "run is not awaiting review (running)" });
    expect(transition(at("succeeded", "register"), { type: "review_completed" }).ok).toBe(false);
  });

  it("a run awaiting review can be cancelled and is not terminal", () => {
    expect(transition(at("awaiting_review", "gate"), { type: "cancel" })).toMatchObject({ ok: true, state: { status: "cancelled" } });
    expect(transition(at("awaiting_review", "gate"), { type: "retry" }).ok).toBe(false);
  });

  it("retry of a gate-blocked run re-evaluates the gate as a new attempt (was: 409 'only failed or cancelled runs')", () => {
    expect(transition(at("blocked", "gate", 2), { type: "retry" })).toMatchObject({ ok: true, state: { status: "running", stage: "gate", attempt: 3 }, effects: [{ type: "enqueue_stage", stage: "gate", attempt: 3 }] });
  });

  it("retry of a run blocked by a rejected approval is refused with the reason", () => {
    const t = transition({ ...at("blocked", "approve"), stages: planStages({ deploy: { endpointName: "e" } as never }) }, { type: "retry" });
    expect(t).toEqual({ ok: false, error: "a run blocked at approve cannot be retried (a rejected approval is final; trigger a new run)" });
  });
});

describe("allowedRunActions", () => {
  it("offers exactly what transition accepts", () => {
    expect(allowedRunActions({ status: "blocked", stage: "gate" })).toMatchObject({ retry: { allowed: true }, override: { allowed: true }, cancel: { allowed: false } });
    expect(allowedRunActions({ status: "blocked", stage: "approve" })).toMatchObject({ retry: { allowed: false }, override: { allowed: false } });
    expect(allowedRunActions({ status: "failed", stage: "train" })).toMatchObject({ retry: { allowed: true }, override: { allowed: false } });
    expect(allowedRunActions({ status: "awaiting_review", stage: "gate" })).toMatchObject({ cancel: { allowed: true }, retry: { allowed: false }, override: { allowed: false }, review: { allowed: true } });
    expect(allowedRunActions({ status: "running", stage: "train", cancelRequested: true }).cancel).toEqual({ allowed: false, reason: "a cancel is already under way" });
    expect(allowedRunActions({ status: "succeeded", stage: "register" }).retry).toEqual({ allowed: false, reason: "only failed, cancelled or gate-blocked runs can be retried (run is succeeded)" });
    for (const status of ["queued", "running", "waiting_approval", "awaiting_review", "succeeded", "failed", "blocked", "cancelled"] as const) {
      for (const stage of [...stages, null]) {
        const a = allowedRunActions({ status, stage });
        expect(a.retry.allowed).toBe(transition(at(status, stage), { type: "retry" }).ok);
        expect(a.cancel.allowed).toBe(transition(at(status, stage), { type: "cancel" }).ok);
      }
    }
  });
});

describe("review quota and overrides", () => {
  it("counts, fractions and 'all'; a count above the samples recorded is capped", () => {
    expect(reviewProgress({ minReviewed: 3 }, { reviewed: 2, total: 8 })).toEqual({ needed: 3, reviewed: 2, total: 8, met: false });
    expect(reviewProgress({ minReviewed: 0.5 }, { reviewed: 4, total: 7 })).toMatchObject({ needed: 4, met: true });
    expect(reviewProgress({ minReviewed: "all" }, { reviewed: 7, total: 8 })).toMatchObject({ needed: 8, met: false });
    expect(reviewProgress({ minReviewed: 50 }, { reviewed: 8, total: 8 })).toMatchObject({ needed: 8, met: true });
  });

  it("validates gate.review with field paths", () => {
    expect(resolveSpec({ ...base, gate: { review: { required: true, minReviewed: 1.5 } } })).toMatchObject({ ok: false, issues: [{ path: "gate.review.minReviewed" }] });
    expect(resolveSpec({ ...base, gate: { review: { required: true, minReviewed: 0 } } })).toMatchObject({ ok: false, issues: [{ path: "gate.review.minReviewed", message: "must be > 0" }] });
    expect(resolveSpec({ ...base, gate: { review: { required: "yes" } } })).toMatchObject({ ok: false, issues: [{ path: "gate.review.required" }] });
    expect(resolveSpec({ ...base, eval: { maxSamples: 10 }, gate: { review: { required: true, minReviewed: 20 } } })).toMatchObject({ ok: false, issues: [{ path: "gate.review.minReviewed" }] });
    const ok = resolveSpec({ ...base, gate: { review: { required: true } } });
    expect(ok.ok && ok.spec.gate).toEqual({ review: { required: true, minReviewed: 1 } });
    // A spec without gate resolves as before (no new key on every stored run).
    const plain = resolveSpec(base);
    expect(plain.ok && "gate" in plain.spec).toBe(false);
  });

  it("overrides replace the threshold on the same metric and may not add one", () => {
    const spec = { eval: { thresholds: [{ metric: "rouge_l" as const, comparator: ">=" as const, value: 0.9, blocking: true }], requireHumanReviewPassRate: 0.8 } } as never;
    expect(gateThresholds(spec)).toEqual([
      { metric: "rouge_l", comparator: ">=", value: 0.9, blocking: true },
      { metric: "human_review_pass_rate", comparator: ">=", value: 0.8, blocking: true },
    ]);
    expect(gateThresholds(spec, [{ metric: "rouge_l", comparator: ">", value: 0.7 }])[0]).toEqual({ metric: "rouge_l", comparator: ">", value: 0.7, blocking: true });
    expect(overrideProblems(gateThresholds(spec), [{ metric: "bleu", comparator: ">=", value: 0.1 }])).toEqual([{ path: "thresholds[0].metric", message: "this run's gate has no threshold on bleu (it has: rouge_l, human_review_pass_rate)" }]);
  });
});
