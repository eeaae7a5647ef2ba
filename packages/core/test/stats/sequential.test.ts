// Simulation tests of the anytime-valid A/B statistics, seeded and fast. Every simulated experiment is analysed at
// every tick, as the rollout controller does; the false-positive rate is the share of A/A experiments that ever
// declared a difference. The measured rates and their 95% Wilson intervals are printed and asserted.
import { describe, expect, it } from "vitest";
import { emptyHistogram, recordValue } from "../../src/stats/histogram";
import { twoProportionZTest } from "../../src/stats/significance";
import { holmRejections, msprt, sequentialLogLatency, sequentialProportions } from "../../src/stats/sequential";
import { seededRandom } from "../../src/stats/random";

function wilson(k: number, n: number): [number, number] {
  const z = 1.96;
  const p = k / n;
  const centre = (p + (z * z) / (2 * n)) / (1 + (z * z) / n);
  const half = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / (1 + (z * z) / n);
  return [centre - half, centre + half];
}

function report(name: string, k: number, n: number): { rate: number; ci: [number, number] } {
  const ci = wilson(k, n);
  console.log(`${name}: ${k}/${n} = ${(k / n).toFixed(4)} (95% CI ${ci[0].toFixed(4)}–${ci[1].toFixed(4)})`);
  return { rate: k / n, ci };
}

const ALPHA = 0.05;
const EXPERIMENTS = 2000;
const LOOKS = 40;
const BATCH = 50; // per arm per tick: 2,000 requests per arm at the last look

/** Runs Bernoulli experiments looked at every tick; returns how many ever rejected under each test. */
function simulateRates(pa: number, pb: number, seed: number) {
  const rand = seededRandom(seed);
  let sequential = 0;
  let fixedEveryTick = 0;
  let fixedOnce = 0;
  let stopLookSum = 0;
  for (let e = 0; e < EXPERIMENTS; e++) {
    let xa = 0;
    let xb = 0;
    let n = 0;
    let seqHit = false;
    let fixedHit = false;
    for (let look = 1; look <= LOOKS; look++) {
      for (let i = 0; i < BATCH; i++) {
        if (rand() < pa) xa++;
        if (rand() < pb) xb++;
      }
      n += BATCH;
      if (!seqHit && sequentialProportions(xa, n, xb, n, { alpha: ALPHA }).pValue < ALPHA) {
        seqHit = true;
        stopLookSum += look;
      }
      if (!fixedHit && twoProportionZTest(xa, n, xb, n).pValue < ALPHA) fixedHit = true;
    }
    if (seqHit) sequential++;
    if (fixedHit) fixedEveryTick++;
    if (twoProportionZTest(xa, n, xb, n).pValue < ALPHA) fixedOnce++;
  }
  return { sequential, fixedEveryTick, fixedOnce, meanStopLook: sequential ? stopLookSum / sequential : null };
}

// Seconds of pure arithmetic each; generous limits so a loaded CI machine does not turn them into timeouts.
describe("anytime-valid A/B tests under continuous monitoring", { timeout: 120_000 }, () => {
  it("A/A: the mSPRT keeps the false-positive rate at or below α when looked at every tick; the fixed-horizon test does not", () => {
    const r = simulateRates(0.1, 0.1, 42);
    const seq = report("A/A mSPRT (feedback rate 10%), every tick", r.sequential, EXPERIMENTS);
    const fixed = report("A/A fixed-horizon z-test, every tick", r.fixedEveryTick, EXPERIMENTS);
    const once = report("A/A fixed-horizon z-test, looked at once at the end", r.fixedOnce, EXPERIMENTS);
    expect(seq.rate).toBeLessThanOrEqual(ALPHA);
    // Today's code, monitored the same way, exceeds α — with its whole interval above it.
    expect(fixed.ci[0]).toBeGreaterThan(ALPHA);
    // ... although the same test used once is calibrated (the simulation itself is sound).
    expect(once.ci[0]).toBeLessThan(ALPHA);
    expect(once.ci[1]).toBeGreaterThan(ALPHA * 0.7);
  });

  it("detects a real effect (10% → 14% thumbs-up) with the power stated, usually long before the last tick", () => {
    const r = simulateRates(0.1, 0.14, 7);
    const power = report("power, 10% vs 14%, up to 2,000 per arm", r.sequential, EXPERIMENTS);
    console.log(`mean tick of the decision: ${r.meanStopLook?.toFixed(1)} of ${LOOKS}`);
    // Stated power: at least 75% for this effect and horizon (the fixed-horizon test looked at once has ~85%).
    expect(power.rate).toBeGreaterThanOrEqual(0.75);
    expect(r.meanStopLook!).toBeLessThan(LOOKS * 0.6);
  });

  it("A/A latency on the log scale stays at or below α too, and a 15% slowdown is found", () => {
    const run = (slowdown: number, seed: number, experiments: number) => {
      const rand = seededRandom(seed);
      const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
      let hits = 0;
      for (let e = 0; e < experiments; e++) {
        const ha = emptyHistogram();
        const hb = emptyHistogram();
        for (let look = 1; look <= 20; look++) {
          for (let i = 0; i < BATCH; i++) {
            recordValue(ha, Math.exp(Math.log(120) + 0.5 * gauss()));
            recordValue(hb, slowdown * Math.exp(Math.log(120) + 0.5 * gauss()));
          }
          if (sequentialLogLatency(ha, hb, { alpha: ALPHA }).pValue < ALPHA) {
            hits++;
            break;
          }
        }
      }
      return hits;
    };
    const aa = report("A/A log-latency mSPRT, every tick", run(1, 3, 1000), 1000);
    expect(aa.rate).toBeLessThanOrEqual(ALPHA);
    const slow = report("power, b 15% slower, up to 1,000 per arm", run(1.15, 4, 500), 500);
    expect(slow.rate).toBeGreaterThanOrEqual(0.8);
  });

  it("Holm over three always-valid p-values holds the family-wise rate under the global null", () => {
    const rand = seededRandom(11);
    let any = 0;
    const n = 1000;
    for (let e = 0; e < n; e++) {
      let xa = [0, 0, 0];
      let xb = [0, 0, 0];
      let count = 0;
      let hit = false;
      for (let look = 1; look <= 20 && !hit; look++) {
        for (let i = 0; i < BATCH; i++) {
          xa = xa.map((x, m) => x + (rand() < [0.1, 0.02, 0.3][m]! ? 1 : 0));
          xb = xb.map((x, m) => x + (rand() < [0.1, 0.02, 0.3][m]! ? 1 : 0));
        }
        count += BATCH;
        const ps = [0, 1, 2].map((m) => sequentialProportions(xa[m]!, count, xb[m]!, count, { alpha: ALPHA }).pValue);
        hit = holmRejections(ps, ALPHA).some(Boolean);
      }
      if (hit) any++;
    }
    expect(report("A/A family-wise (3 metrics, Holm), every tick", any, n).rate).toBeLessThanOrEqual(ALPHA);
  });

  it("the confidence sequence contains 0 exactly when the test does not reject, and Holm is step-down", () => {
    for (const est of [0, 0.01, 0.02, 0.05]) {
      const r = msprt(est, 0.0001, 0.05, ALPHA);
      const rejects = r.pValue < ALPHA;
      expect(rejects).toBe(!(r.interval[0] <= 0 && 0 <= r.interval[1]));
    }
    expect(holmRejections([0.01, 0.04, 0.03], 0.05)).toEqual([true, false, false]);
    expect(holmRejections([0.01, 0.02, 0.04], 0.05)).toEqual([true, true, true]);
    expect(sequentialProportions(1, 10, 2, 10, { alpha: ALPHA }).ready).toBe(false);
  });
});
