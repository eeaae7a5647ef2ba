import { describe, expect, it } from "vitest";
import { emptyHistogram, recordValue } from "../../src/stats/histogram";
import { relativeChecks, summarizeWindows, type TVariantStats } from "../../src/rollout/analysis";
import { decideAb, decideBlueGreen, decideCanary } from "../../src/rollout/decide";
import { ZRolloutPolicy, adjustPolicyForEval, policyFromDeploySpec } from "../../src/rollout/policy";

/** A variant that served `requests` requests at `latencyMs` (TTFT a fifth of it), `errors` of them failed. */
function stats(requests: number, latencyMs: number, errors = 0, feedback: [number, number] = [0, 0]): TVariantStats {
  const latencyHist = emptyHistogram();
  const ttftHist = emptyHistogram();
  for (let i = 0; i < requests; i++) {
    recordValue(latencyHist, latencyMs * (0.9 + (i % 10) / 50));
    recordValue(ttftHist, latencyMs / 5);
  }
  return summarizeWindows([
    { requests, errors, timeouts: 0, latencyHist, ttftHist, outputTokens: requests * 10, feedbackUp: feedback[0], feedbackDown: feedback[1] },
  ]);
}

const policy = ZRolloutPolicy.parse({
  slo: { p99LatencyMs: 500, ttftP95Ms: 200, errorRate: 0.05 },
  canary: { stepsBps: [500, 2500, 5000, 10000], stepSeconds: 30, minRequests: 50 },
  minRequestsForRollback: 20,
});

describe("decideCanary", () => {
  const table: { name: string; step: number; elapsed: number; canary: TVariantStats; stable: TVariantStats | null; expected: string; weight?: number }[] = [
    { name: "healthy, window not over", step: 0, elapsed: 10_000, canary: stats(100, 50), stable: stats(1000, 50), expected: "wait" },
    { name: "healthy, window over → next step", step: 0, elapsed: 30_000, canary: stats(100, 50), stable: stats(1000, 50), expected: "advance", weight: 2500 },
    { name: "healthy at 50% → promote", step: 2, elapsed: 31_000, canary: stats(100, 50), stable: stats(100, 50), expected: "promote" },
    { name: "too few requests after the window", step: 0, elapsed: 60_000, canary: stats(30, 50), stable: stats(1000, 50), expected: "wait" },
    { name: "p99 over the SLO → rollback at once", step: 0, elapsed: 1_000, canary: stats(25, 900), stable: stats(1000, 50), expected: "rollback" },
    { name: "p99 breach with too few requests → wait", step: 0, elapsed: 1_000, canary: stats(10, 900), stable: stats(1000, 50), expected: "wait" },
    { name: "errors over the SLO → rollback", step: 1, elapsed: 5_000, canary: stats(100, 50, 10), stable: stats(1000, 50), expected: "rollback" },
    { name: "3× stable's p99 though under the SLO → rollback", step: 1, elapsed: 5_000, canary: stats(100, 300), stable: stats(1000, 100), expected: "rollback" },
    { name: "slightly slower than a fast stable (under minP99Diff) → fine", step: 0, elapsed: 30_000, canary: stats(100, 3), stable: stats(1000, 1), expected: "advance", weight: 2500 },
    { name: "TTFT over the SLO → rollback", step: 0, elapsed: 1_000, canary: stats(100, 1250 / 3), stable: stats(1000, 50), expected: "rollback" },
    { name: "first deployment, no stable", step: 0, elapsed: 30_000, canary: stats(100, 50), stable: null, expected: "advance", weight: 2500 },
    { name: "error rate above stable's by more than allowed", step: 0, elapsed: 30_000, canary: stats(1000, 50, 40), stable: stats(1000, 50, 0), expected: "rollback" },
  ];
  for (const row of table) {
    it(row.name, () => {
      const d = decideCanary({ policy, currentStep: row.step, stepElapsedMs: row.elapsed, canary: row.canary, stable: row.stable });
      expect(d.decision.action).toBe(row.expected);
      if (row.weight !== undefined && d.decision.action === "advance") expect(d.decision.weightBps).toBe(row.weight);
      expect(d.decision.reason.length).toBeGreaterThan(5);
    });
  }

  it("names the breached check and its numbers", () => {
    const d = decideCanary({ policy, currentStep: 0, stepElapsedMs: 0, canary: stats(25, 900), stable: stats(1000, 50) });
    expect(d.decision.reason).toMatch(/p99_latency_ms \d+(\.\d)? > 500/);
    expect(d.checks.find((c) => c.name === "p99_latency_ms")?.passed).toBe(false);
  });

  it("never advances or promotes a canary whose checks fail, even below the rollback minimum", () => {
    const quick = ZRolloutPolicy.parse({ ...policy, canary: { ...policy.canary, minRequests: 10 } });
    const slow = decideCanary({ policy: quick, currentStep: 2, stepElapsedMs: 60_000, canary: stats(15, 900), stable: stats(100, 50) });
    expect(slow.decision.action).toBe("wait");
    expect(slow.decision.reason).toMatch(/p99_latency_ms .* over 15 requests; judging at 20/);
    expect(decideCanary({ policy: quick, currentStep: 2, stepElapsedMs: 60_000, canary: stats(15, 50), stable: stats(100, 50) }).decision.action).toBe("promote");
  });

  it("waits for a person when autoPromote is off, and does not roll back when automatic rollback is off", () => {
    const manual = ZRolloutPolicy.parse({ ...policy, canary: { ...policy.canary, autoPromote: false }, automaticRollback: false });
    expect(decideCanary({ policy: manual, currentStep: 2, stepElapsedMs: 31_000, canary: stats(100, 50), stable: stats(100, 50) }).decision.action).toBe("await_decision");
    expect(decideCanary({ policy: manual, currentStep: 0, stepElapsedMs: 0, canary: stats(100, 900), stable: stats(100, 50) }).decision.action).toBe("wait");
  });
});

describe("decideBlueGreen", () => {
  const g = stats(100, 50);
  it.each([
    { phase: 0 as const, smoke: null, elapsed: 0, green: g, expected: "wait" },
    { phase: 0 as const, smoke: { passed: false, detail: "HTTP 500" }, elapsed: 0, green: g, expected: "rollback" },
    { phase: 0 as const, smoke: { passed: true, detail: "3/3" }, elapsed: 0, green: g, expected: "switch" },
    { phase: 1 as const, smoke: null, elapsed: 10_000, green: g, expected: "wait" },
    { phase: 1 as const, smoke: null, elapsed: 10_000, green: stats(100, 50, 20), expected: "rollback" },
    { phase: 1 as const, smoke: null, elapsed: 301_000, green: g, expected: "promote" },
  ])("phase $phase, smoke $smoke.passed, $elapsed ms → $expected", (row) => {
    const d = decideBlueGreen({ policy, phase: row.phase, smoke: row.smoke, phaseElapsedMs: row.elapsed, green: row.green, blue: stats(100, 50) });
    expect(d.decision.action).toBe(row.expected);
  });
});

describe("decideAb", () => {
  const auto = ZRolloutPolicy.parse({ ...policy, ab: { minSamplesPerVariant: 200, durationSeconds: 600, autoDecide: true } });
  it("collects samples first", () => {
    expect(decideAb({ policy: auto, elapsedMs: 1000, a: stats(50, 50), b: stats(50, 50), alreadyAwaiting: false }).decision.action).toBe("wait");
  });
  it("promotes b when feedback is significantly better", () => {
    const d = decideAb({ policy: auto, elapsedMs: 1000, a: stats(400, 50, 0, [100, 100]), b: stats(400, 50, 0, [160, 40]), alreadyAwaiting: false });
    expect(d.decision.action).toBe("promote");
    expect(d.ab!.feedback.pValue).toBeLessThan(0.05);
  });
  it("keeps a when b is significantly slower", () => {
    const d = decideAb({ policy: auto, elapsedMs: 1000, a: stats(400, 50), b: stats(400, 80), alreadyAwaiting: false });
    expect(d.decision.action).toBe("rollback");
    expect(d.ab!.latency.bFasterProbability).toBeLessThan(0.5);
  });
  it("keeps a when there is no significant difference after the duration", () => {
    const d = decideAb({ policy: auto, elapsedMs: 601_000, a: stats(100, 50), b: stats(100, 50), alreadyAwaiting: false });
    expect(d.decision).toMatchObject({ action: "rollback" });
    expect(d.decision.reason).toMatch(/no significant difference/);
  });
  it("hands the decision to a person once, unless autoDecide", () => {
    const manual = ZRolloutPolicy.parse({ ...auto, ab: { ...auto.ab, autoDecide: false } });
    const args = { policy: manual, elapsedMs: 1000, a: stats(400, 50), b: stats(400, 40) };
    expect(decideAb({ ...args, alreadyAwaiting: false }).decision.action).toBe("await_decision");
    expect(decideAb({ ...args, alreadyAwaiting: true }).decision.action).toBe("wait");
  });
  it("sequential: keeps collecting without a significant difference until the duration, and shows the always-valid intervals", () => {
    const d = decideAb({ policy: auto, elapsedMs: 1000, a: stats(400, 50, 0, [100, 100]), b: stats(400, 50, 0, [104, 96]), alreadyAwaiting: false });
    expect(d.decision.action).toBe("wait");
    expect(d.decision.reason).toMatch(/no significant difference yet/);
    expect(d.ab!.method).toBe("sequential");
    const fb = d.ab!.sequential!.feedback;
    expect(fb.interval[0]).toBeLessThan(0);
    expect(fb.interval[1]).toBeGreaterThan(0);
    expect(fb.boundary).toBeCloseTo(Math.log(20));
  });
  it("fixed: the classic one-look tests decide as soon as the sample size is reached", () => {
    const fixed = ZRolloutPolicy.parse({ ...auto, ab: { ...auto.ab, method: "fixed" } });
    const d = decideAb({ policy: fixed, elapsedMs: 1000, a: stats(400, 50, 0, [100, 100]), b: stats(400, 50, 0, [104, 96]), alreadyAwaiting: false });
    expect(d.ab!.method).toBe("fixed");
    expect(d.decision).toMatchObject({ action: "rollback" });
    expect(d.decision.reason).toMatch(/no significant difference, keeping a/);
  });
  it("rolls b back on an SLO breach even mid-experiment", () => {
    expect(decideAb({ policy: auto, elapsedMs: 0, a: stats(30, 50), b: stats(30, 50, 10), alreadyAwaiting: false }).decision.action).toBe("rollback");
  });
});

describe("policy", () => {
  it("fills defaults and rejects bad steps with the field path", () => {
    expect(ZRolloutPolicy.parse({}).canary.stepsBps).toEqual([500, 2500, 5000, 10000]);
    const r = ZRolloutPolicy.safeParse({ canary: { stepsBps: [500, 400, 10000] } });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.path).toEqual(["canary", "stepsBps"]);
  });

  it("maps the pipeline's deploy spec", () => {
    const p = policyFromDeploySpec({
      canary: { steps: [1000, 10000], analysisWindowSeconds: 20, minRequests: 10 },
      slo: { p99LatencyMs: 900, ttftP95Ms: 300, maxErrorRate: 0.02 },
      autoPromote: true,
    });
    expect(p.canary).toEqual({ stepsBps: [1000, 10000], stepSeconds: 20, minRequests: 10, autoPromote: true });
    expect(p.slo).toEqual({ p99LatencyMs: 900, ttftP95Ms: 300, errorRate: 0.02 });
    expect(p.relative).toEqual({ maxP99Ratio: 1.5, minP99DiffMs: 50, maxErrorRateIncrease: 0.02 });
  });

  it("takes the canary-versus-stable limits from deploy.slo.vsStable, keeping defaults for what it omits", () => {
    const p = policyFromDeploySpec({
      canary: { steps: [10000], analysisWindowSeconds: 20, minRequests: 10 },
      slo: { p99LatencyMs: 900, ttftP95Ms: 300, maxErrorRate: 0.02, vsStable: { maxP99Ratio: 3, minP99DiffMs: 1000 } },
      autoPromote: true,
    });
    expect(p.relative).toEqual({ maxP99Ratio: 3, minP99DiffMs: 1000, maxErrorRateIncrease: 0.02 });
    const stable = { ...stats(40, 100), p99LatencyMs: 140 };
    // 238 ms against 140 ms fails the default limits (max(210, 190)) but passes max(420, 1140).
    const slowStart = { ...stats(40, 100), p99LatencyMs: 238 };
    expect(relativeChecks(slowStart, stable, ZRolloutPolicy.parse({})).find((c) => c.name === "p99_latency_vs_stable_ms")!.passed).toBe(false);
    expect(relativeChecks(slowStart, stable, p).find((c) => c.name === "p99_latency_vs_stable_ms")).toMatchObject({ limit: 1140, passed: true });
  });

  it("slows the canary when the gate passed narrowly, and only then", () => {
    const base = ZRolloutPolicy.parse({});
    const narrow = adjustPolicyForEval(base, [
      { metric: "rougeL", value: 0.46, threshold: 0.45, comparator: ">=", blocking: true, passed: true },
      { metric: "accuracy", value: 0.9, threshold: 0.5, comparator: ">=", blocking: true, passed: true },
    ]);
    expect(narrow.policy.canary.stepsBps).toEqual([100, 500, 2500, 5000, 10000]);
    expect(narrow.policy.canary.stepSeconds).toBe(120);
    expect(narrow.adjustments[0]).toMatch(/rougeL 0.46/);
    const wide = adjustPolicyForEval(base, [{ metric: "rougeL", value: 0.6, threshold: 0.45, comparator: ">=", blocking: true, passed: true }]);
    expect(wide.adjustments).toEqual([]);
    expect(wide.policy).toBe(base);
    const lowerIsBetter = adjustPolicyForEval(base, [{ metric: "toxicity", value: 0.098, threshold: 0.1, comparator: "<=", blocking: true, passed: true }]);
    expect(lowerIsBetter.adjustments).toHaveLength(1);
    // A perfect score is no narrow pass, even under a threshold just below it (safety_pass_rate 1.0 vs >= 0.99).
    const perfect = adjustPolicyForEval(base, [
      { metric: "safety_pass_rate", value: 1, threshold: 0.99, comparator: ">=", blocking: true, passed: true },
      { metric: "refusal_rate", value: 0, threshold: 0.01, comparator: "<=", blocking: true, passed: true },
    ]);
    expect(perfect.adjustments).toEqual([]);
    const almost = adjustPolicyForEval(base, [{ metric: "safety_pass_rate", value: 0.995, threshold: 0.99, comparator: ">=", blocking: true, passed: true }]);
    expect(almost.adjustments).toHaveLength(1);
  });
});
