// Anytime-valid comparison of two variants: the mixture sequential probability ratio test (mSPRT) of Johari, Koomen,
// Pekelis and Walsh, "Always Valid Inference" (2017) — what Optimizely's and Eppo's sequential tests use. An experiment
// analysed at every tick with a fixed-horizon test rejects a true null far more often than α (each look is another
// chance); the mSPRT's p-value and confidence sequence hold at any stopping time, so looking every tick is allowed.
//
// For an effect estimate θ̂ with (plug-in) variance V and a normal mixing prior N(0, τ²) on the effect, the mixture
// likelihood ratio against θ = 0 is  Λ = sqrt(V / (V + τ²)) · exp(θ̂² τ² / (2 V (V + τ²))).  H0 is rejected once
// Λ ≥ 1/α; the always-valid p-value is min(1, 1/Λ); and {θ : Λ_θ < 1/α} is the confidence sequence
// θ̂ ± sqrt(V (V + τ²) / τ² · (log((V + τ²) / V) + 2 log(1/α))).
import { HISTOGRAM_SLOTS, bucketRange, histogramCount } from "./histogram";

export interface TSequentialResult {
  /** Effect estimate (b − a on the metric's scale). */
  estimate: number;
  /** Standard error of the estimate. */
  se: number;
  /** Always-valid p-value: min(1, 1/Λ). */
  pValue: number;
  /** log Λ, compared with the boundary log(1/α). */
  logLikelihoodRatio: number;
  boundary: number;
  /** The 1 − α confidence sequence for the effect. */
  interval: [number, number];
  /** Enough data for the normal approximation (the test abstains before). */
  ready: boolean;
}

const NOT_READY = (estimate: number, alpha: number): TSequentialResult => ({
  estimate,
  se: Number.POSITIVE_INFINITY,
  pValue: 1,
  logLikelihoodRatio: 0,
  boundary: Math.log(1 / alpha),
  interval: [Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY],
  ready: false,
});

/** The mSPRT for an estimate θ̂ with variance V under a N(0, τ²) mixture. */
export function msprt(estimate: number, variance: number, tau: number, alpha: number): TSequentialResult {
  if (!(variance > 0) || !Number.isFinite(variance)) return NOT_READY(estimate, alpha);
  const t2 = tau * tau;
  const logLr = 0.5 * Math.log(variance / (variance + t2)) + (estimate * estimate * t2) / (2 * variance * (variance + t2));
  const half = Math.sqrt(((variance * (variance + t2)) / t2) * (Math.log((variance + t2) / variance) + 2 * Math.log(1 / alpha)));
  return {
    estimate,
    se: Math.sqrt(variance),
    pValue: Math.min(1, Math.exp(-logLr)),
    logLikelihoodRatio: logLr,
    boundary: Math.log(1 / alpha),
    interval: [estimate - half, estimate + half],
    ready: true,
  };
}

/**
 * Difference of two rates (b − a), e.g. thumbs-up share or error rate. The variance uses the pooled rate (the null's
 * variance) so a true null is not rejected by a small-sample variance underestimate; it abstains until each arm has
 * `minTrials` trials and the pooled count has at least 5 successes and 5 failures.
 */
export function sequentialProportions(xa: number, na: number, xb: number, nb: number, opts: { alpha: number; tau?: number; minTrials?: number }): TSequentialResult {
  const pa = na > 0 ? xa / na : 0;
  const pb = nb > 0 ? xb / nb : 0;
  const estimate = pb - pa;
  const pooled = na + nb > 0 ? (xa + xb) / (na + nb) : 0;
  const minTrials = opts.minTrials ?? 30;
  if (na < minTrials || nb < minTrials || xa + xb < 5 || na + nb - xa - xb < 5) return NOT_READY(estimate, opts.alpha);
  return msprt(estimate, pooled * (1 - pooled) * (1 / na + 1 / nb), opts.tau ?? 0.05, opts.alpha);
}

/** Mean and variance of log(latency) from a fixed-bucket histogram (bucket widths add Sheppard's uniform term). */
export function logLatencyMoments(hist: readonly number[]): { n: number; mean: number; variance: number } {
  const n = histogramCount(hist);
  if (n === 0) return { n: 0, mean: 0, variance: 0 };
  let sum = 0;
  let sumSq = 0;
  let widthSq = 0;
  for (let i = 0; i < Math.min(hist.length, HISTOGRAM_SLOTS); i++) {
    const c = hist[i]!;
    if (c === 0) continue;
    const [lo, hi] = bucketRange(i);
    const lower = Math.log(Math.max(lo, 0.05));
    const upper = Math.log(Math.max(hi, lo, 0.1));
    const mid = (lower + upper) / 2;
    sum += c * mid;
    sumSq += c * mid * mid;
    widthSq += c * (upper - lower) ** 2;
  }
  const mean = sum / n;
  const variance = Math.max(0, sumSq / n - mean * mean) + widthSq / n / 12;
  return { n, mean, variance };
}

/**
 * Latency of b relative to a, on the log scale: estimate = mean log-latency of b − that of a, so exp(estimate) is
 * b's latency as a multiple of a's (0.1 ≈ 10% slower). τ = 0.1 puts the prior on effects of about ±10%.
 */
export function sequentialLogLatency(histA: readonly number[], histB: readonly number[], opts: { alpha: number; tau?: number; minTrials?: number }): TSequentialResult {
  const a = logLatencyMoments(histA);
  const b = logLatencyMoments(histB);
  const estimate = b.mean - a.mean;
  const minTrials = opts.minTrials ?? 30;
  if (a.n < minTrials || b.n < minTrials) return NOT_READY(estimate, opts.alpha);
  return msprt(estimate, a.variance / a.n + b.variance / b.n, opts.tau ?? 0.1, opts.alpha);
}

/** Holm's step-down correction: which of these p-values are rejected with the family-wise error rate held at α. */
export function holmRejections(pValues: readonly number[], alpha: number): boolean[] {
  const order = pValues.map((p, i) => [p, i] as const).sort((x, y) => x[0] - y[0]);
  const rejected = new Array<boolean>(pValues.length).fill(false);
  for (let k = 0; k < order.length; k++) {
    const [p, i] = order[k]!;
    if (p > alpha / (order.length - k)) break;
    rejected[i] = true;
  }
  return rejected;
}
