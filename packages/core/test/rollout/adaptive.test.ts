import { describe, expect, it } from "vitest";
import { allocationFromProbabilities, probabilityBest, thompsonAllocation } from "../../src/rollout/adaptive";
import { seededRandom } from "../../src/stats/random";
import { summarizeWindows, type TVariantStats } from "../../src/rollout/analysis";
import { decideAb } from "../../src/rollout/decide";
import { ZRolloutPolicy } from "../../src/rollout/policy";
import { emptyHistogram, recordValue } from "../../src/stats/histogram";

function variant(requests: number, errors: number, up = 0, down = 0): TVariantStats {
  const h = emptyHistogram();
  for (let i = 0; i < requests; i++) recordValue(h, 40);
  return summarizeWindows([{ requests, errors, timeouts: 0, latencyHist: h, ttftHist: h, outputTokens: requests, feedbackUp: up, feedbackDown: down }]);
}

const policy = ZRolloutPolicy.parse({
  slo: { errorRate: 1 },
  ab: { splitBps: 5_000, minSamplesPerVariant: 50, autoDecide: true, allocation: { mode: "thompson", metric: "success", floorBps: 1_000, confidence: 0.95 } },
});

describe("Thompson allocation", () => {
  it("is deterministic for a seed and estimates P(best) correctly for equal arms", () => {
    const arms = [{ successes: 40, failures: 10 }, { successes: 40, failures: 10 }];
    expect(thompsonAllocation(arms, { floorBps: 1000, seed: 7 })).toEqual(thompsonAllocation(arms, { floorBps: 1000, seed: 7 }));
    const p = probabilityBest(arms, seededRandom(1), 20_000);
    expect(p[0]).toBeGreaterThan(0.47);
    expect(p[0]).toBeLessThan(0.53);
  });

  it("the Beta sampler is right: P(Beta(3,7) > Beta(7,3)) = 0.0349 (exact, by the Beta tail sum)", () => {
    const p = probabilityBest([{ successes: 2, failures: 6 }, { successes: 6, failures: 2 }], seededRandom(11), 40_000);
    expect(p[0]).toBeGreaterThan(0.0349 - 0.006);
    expect(p[0]).toBeLessThan(0.0349 + 0.006);
  });

  it("the floor holds for a hopeless arm and weights always sum to 10000", () => {
    for (const p of [[0, 1], [1, 0], [0.5, 0.5], [0.123, 0.877]]) {
      const w = allocationFromProbabilities(p, 1_000);
      expect(w.reduce((s, x) => s + x, 0)).toBe(10_000);
      expect(Math.min(...w)).toBeGreaterThanOrEqual(1_000);
    }
    const t = thompsonAllocation([{ successes: 10, failures: 990 }, { successes: 990, failures: 10 }], { floorBps: 1_500, seed: 1 });
    expect(t.weightsBps).toEqual([1_500, 8_500]);
  });

  it("a simulated adaptive experiment moves allocation towards the better arm and ends on it with the stated confidence", () => {
    // a fails 12% of requests, b 5%. Each tick 40 requests are split by the current weights (seeded); judged from 150 each.
    const slow = ZRolloutPolicy.parse({ ...policy, ab: { ...policy.ab, minSamplesPerVariant: 150 } });
    const rng = seededRandom(2026);
    const counts = { a: { n: 0, e: 0 }, b: { n: 0, e: 0 } };
    let split = policy.ab.splitBps;
    const splits: number[] = [split];
    let end: string | null = null;
    for (let tick = 0; tick < 200 && !end; tick++) {
      for (let i = 0; i < 40; i++) {
        const arm = rng() * 10_000 < split ? counts.b : counts.a;
        arm.n++;
        if (rng() < (arm === counts.b ? 0.05 : 0.12)) arm.e++;
      }
      const out = decideAb({ policy: slow, elapsedMs: tick * 1000, a: variant(counts.a.n, counts.a.e), b: variant(counts.b.n, counts.b.e), alreadyAwaiting: false, currentSplitBps: split, seed: tick });
      if (out.decision.action === "reweight") {
        split = out.decision.weightBps;
        splits.push(split);
      } else if (out.decision.action !== "wait") {
        end = out.decision.action;
        expect(out.adaptive!.pBest.b).toBeGreaterThanOrEqual(0.95);
      }
    }
    expect(end).toBe("promote");
    expect(Math.max(...splits)).toBeGreaterThan(5_000);
    expect(Math.max(...splits)).toBeLessThanOrEqual(9_000); // the floor of 10% for a holds
  });

  it("a worse b loses: allocation moves to a and the experiment rolls back with P(a best) >= confidence", () => {
    const out = decideAb({ policy, elapsedMs: 10_000, a: variant(400, 20), b: variant(400, 80), alreadyAwaiting: false, currentSplitBps: 5_000 });
    expect(out.decision.action).toBe("rollback");
    expect(out.adaptive!.pBest.a).toBeGreaterThanOrEqual(0.95);
    const early = decideAb({ policy, elapsedMs: 10_000, a: variant(40, 4), b: variant(40, 9), alreadyAwaiting: false, currentSplitBps: 5_000 });
    expect(early.decision.action).toBe("reweight");
    expect(early.adaptive!.weightsBps.b).toBeLessThan(5_000);
    expect(early.adaptive!.weightsBps.b).toBeGreaterThanOrEqual(1_000);
  });

  it("without autoDecide the confident end awaits a person (release rules), once", () => {
    const manual = ZRolloutPolicy.parse({ ...policy, ab: { ...policy.ab, autoDecide: false } });
    expect(decideAb({ policy: manual, elapsedMs: 1, a: variant(400, 80), b: variant(400, 20), alreadyAwaiting: false }).decision.action).toBe("await_decision");
    expect(decideAb({ policy: manual, elapsedMs: 1, a: variant(400, 80), b: variant(400, 20), alreadyAwaiting: true }).decision.action).toBe("wait");
  });

  it("feedback is the default metric: thumbs-up shares drive it", () => {
    const fb = ZRolloutPolicy.parse({ slo: { errorRate: 1 }, ab: { minSamplesPerVariant: 10, autoDecide: true, allocation: { mode: "thompson" } } });
    const out = decideAb({ policy: fb, elapsedMs: 1, a: variant(300, 0, 60, 140), b: variant(300, 0, 150, 50), alreadyAwaiting: false });
    expect(out.adaptive!.metric).toBe("feedback");
    expect(out.decision.action).toBe("promote");
  });
});
