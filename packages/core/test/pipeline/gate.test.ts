import { describe, expect, it } from "vitest";
import { evaluateGate } from "../../src/pipeline/gate.ts";

describe("evaluateGate", () => {
  it("passes when every blocking threshold holds", () => {
    const r = evaluateGate([{ metric: "rouge_l", comparator: ">=", value: 0.45, blocking: true }], { rouge_l: 0.5 });
    expect(r.passed).toBe(true);
    expect(r.reason).toBeNull();
    expect(r.checks[0]).toMatchObject({ passed: true, value: 0.5, reason: "rouge_l = 0.5 >= 0.45: passed" });
  });

  it("blocks with a readable reason naming the metric, value and threshold", () => {
    const r = evaluateGate([{ metric: "rouge_l", comparator: ">=", value: 0.45, blocking: true }], { rouge_l: 0.3123456 });
    expect(r.passed).toBe(false);
    expect(r.reason).toBe("blocked by the evaluation gate: rouge_l = 0.3123, needs >= 0.45 (blocking)");
  });

  it.each([
    [">=", 0.5, 0.5, true],
    [">", 0.5, 0.5, false],
    ["<=", 0.5, 0.5, true],
    ["<", 0.5, 0.5, false],
    ["<", 0.4, 0.5, true],
    [">", 0.6, 0.5, true],
  ] as const)("%s: %d vs %d → %s", (comparator, value, threshold, expected) => {
    expect(evaluateGate([{ metric: "f1", comparator, value: threshold, blocking: true }], { f1: value }).passed).toBe(expected);
  });

  it("advisory failures are reported but do not block", () => {
    const r = evaluateGate(
      [
        { metric: "bleu", comparator: ">=", value: 0.9, blocking: false },
        { metric: "refusal_rate", comparator: "<=", value: 0.1, blocking: true },
      ],
      { bleu: 0.2, refusal_rate: 0.05 },
    );
    expect(r.passed).toBe(true);
    expect(r.checks[0]).toMatchObject({ passed: false, reason: "bleu = 0.2, needs >= 0.9 (advisory)" });
  });

  it("a missing or non-finite metric fails its threshold", () => {
    const r = evaluateGate([{ metric: "accuracy", comparator: ">=", value: 0.1, blocking: true }], { accuracy: Number.NaN });
    expect(r.passed).toBe(false);
    expect(r.checks[0]!.reason).toBe("accuracy was not reported (blocking threshold >= 0.1)");
  });

  it("no thresholds: passes", () => {
    expect(evaluateGate([], {}).passed).toBe(true);
  });
});
