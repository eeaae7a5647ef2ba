/** Standard normal CDF (Abramowitz & Stegun 7.1.26 via erf; absolute error < 1.5e-7). */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erf =
    1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

export interface TTestResult {
  /** Test statistic on the standard normal scale. */
  z: number;
  /** Two-sided p-value. */
  pValue: number;
}

export interface TMannWhitneyResult extends TTestResult {
  u: number;
  n1: number;
  n2: number;
  /** P(a value of the first sample > one of the second) + ½ P(tie): 0.5 means no difference. */
  commonLanguageEffect: number;
}

/**
 * Mann-Whitney U on grouped data: `a[i]` and `b[i]` count observations that share the same ordered class i (equal
 * values, or the same histogram bucket). Uses the normal approximation with tie correction, which is what large
 * serving samples need; grouping by bucket treats values within a bucket as ties, which only makes the test
 * conservative.
 */
export function mannWhitneyUGrouped(a: readonly number[], b: readonly number[]): TMannWhitneyResult {
  const k = Math.max(a.length, b.length);
  let n1 = 0;
  let n2 = 0;
  for (let i = 0; i < k; i++) {
    n1 += a[i] ?? 0;
    n2 += b[i] ?? 0;
  }
  const n = n1 + n2;
  if (n1 === 0 || n2 === 0) return { u: 0, n1, n2, z: 0, pValue: 1, commonLanguageEffect: 0.5 };
  let rankSumA = 0;
  let below = 0;
  let tieTerm = 0;
  for (let i = 0; i < k; i++) {
    const ca = a[i] ?? 0;
    const t = ca + (b[i] ?? 0);
    if (t === 0) continue;
    const midRank = below + (t + 1) / 2;
    rankSumA += ca * midRank;
    tieTerm += t * t * t - t;
    below += t;
  }
  const u = rankSumA - (n1 * (n1 + 1)) / 2;
  const mean = (n1 * n2) / 2;
  const variance = ((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1)));
  const z = variance > 0 ? (u - mean) / Math.sqrt(variance) : 0;
  return { u, n1, n2, z, pValue: Math.min(1, 2 * (1 - normalCdf(Math.abs(z)))), commonLanguageEffect: u / (n1 * n2) };
}

/** Mann-Whitney U on raw samples (ties get mid-ranks). */
export function mannWhitneyU(a: readonly number[], b: readonly number[]): TMannWhitneyResult {
  const values = [...new Set([...a, ...b])].sort((x, y) => x - y);
  const index = new Map(values.map((v, i) => [v, i]));
  const ga = new Array<number>(values.length).fill(0);
  const gb = new Array<number>(values.length).fill(0);
  for (const v of a) ga[index.get(v)!]! += 1;
  for (const v of b) gb[index.get(v)!]! += 1;
  return mannWhitneyUGrouped(ga, gb);
}

/** Mann-Whitney U between two latency histograms on the shared fixed buckets. */
export function mannWhitneyUHistograms(a: readonly number[], b: readonly number[]): TMannWhitneyResult {
  return mannWhitneyUGrouped(a, b);
}

export interface TTwoProportionResult extends TTestResult {
  p1: number;
  p2: number;
  /** p2 - p1 */
  diff: number;
}

/** Pooled two-proportion z-test: are successes x1/n1 and x2/n2 drawn from the same rate? */
export function twoProportionZTest(x1: number, n1: number, x2: number, n2: number): TTwoProportionResult {
  for (const [name, v] of [["x1", x1], ["n1", n1], ["x2", x2], ["n2", n2]] as const) {
    if (!Number.isFinite(v) || v < 0) throw new RangeError(`${name} must be a non-negative number, got ${v}`);
  }
  if (x1 > n1 || x2 > n2) throw new RangeError("successes cannot exceed trials");
  const p1 = n1 > 0 ? x1 / n1 : 0;
  const p2 = n2 > 0 ? x2 / n2 : 0;
  if (n1 === 0 || n2 === 0) return { p1, p2, diff: p2 - p1, z: 0, pValue: 1 };
  const pooled = (x1 + x2) / (n1 + n2);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  const z = se > 0 ? (p2 - p1) / se : 0;
  return { p1, p2, diff: p2 - p1, z, pValue: Math.min(1, 2 * (1 - normalCdf(Math.abs(z)))) };
}
