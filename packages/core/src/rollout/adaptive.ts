// Adaptive A/B allocation by Thompson sampling. Each variant's primary metric is a rate (successes of trials: thumbs-up
// of rated answers, or non-failed requests); with a uniform Beta(1, 1) prior its posterior is Beta(1 + s, 1 + f).
// P(variant is best) is estimated by drawing from every posterior `draws` times and counting which draw is highest;
// the traffic split follows those probabilities (Thompson sampling, batched per analysis tick) with a floor per
// variant so the worse one keeps being measured. The random stream is seeded, so one input gives one answer.

import { seededRandom } from "../stats/random.ts";

export interface TArm {
  successes: number;
  failures: number;
}

/** FNV-1a of a string: a seed derived from e.g. the deployment id and the data seen so far. */
export function seedOf(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function normal(rng: () => number): number {
  const u = Math.max(rng(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

/** Gamma(shape, 1) by Marsaglia and Tsang (2000); shape < 1 via the Gamma(shape + 1)·U^(1/shape) boost. */
function gamma(shape: number, rng: () => number): number {
  if (shape < 1) return gamma(shape + 1, rng) * Math.pow(Math.max(rng(), 1e-12), 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = normal(rng);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = rng();
    if (u < 1 - 0.0331 * x ** 4 || Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

export function sampleBeta(alpha: number, beta: number, rng: () => number): number {
  const x = gamma(alpha, rng);
  const y = gamma(beta, rng);
  return x / (x + y);
}

/** Monte-Carlo estimate of each arm's posterior probability of having the highest rate. */
export function probabilityBest(arms: readonly TArm[], rng: () => number, draws = 4_000): number[] {
  const wins = new Array<number>(arms.length).fill(0);
  for (let d = 0; d < draws; d++) {
    let best = -1;
    let bestValue = -1;
    for (let i = 0; i < arms.length; i++) {
      const v = sampleBeta(1 + arms[i]!.successes, 1 + arms[i]!.failures, rng);
      if (v > bestValue) {
        bestValue = v;
        best = i;
      }
    }
    wins[best]!++;
  }
  return wins.map((w) => w / draws);
}

/**
 * Weights in basis points (summing to 10000) proportional to P(best), each at least floorBps: the floor is given
 * first and the rest is shared by P(best). Rounding leftovers go to the likeliest best arm.
 */
export function allocationFromProbabilities(pBest: readonly number[], floorBps: number): number[] {
  const floor = Math.min(floorBps, Math.floor(10_000 / pBest.length));
  const free = 10_000 - floor * pBest.length;
  const weights = pBest.map((p) => floor + Math.floor(free * p));
  const leftover = 10_000 - weights.reduce((s, w) => s + w, 0);
  const top = pBest.indexOf(Math.max(...pBest));
  weights[top]! += leftover;
  return weights;
}

export interface TThompsonResult {
  pBest: number[];
  weightsBps: number[];
}

export function thompsonAllocation(arms: readonly TArm[], opts: { floorBps: number; seed: number; draws?: number }): TThompsonResult {
  const pBest = probabilityBest(arms, seededRandom(opts.seed), opts.draws ?? 4_000);
  return { pBest, weightsBps: allocationFromProbabilities(pBest, opts.floorBps) };
}
