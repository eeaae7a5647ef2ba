// Power and duration of an A/B experiment on a rate (thumbs-up share, success rate). Sample size per arm for a
// two-sided two-proportion z-test with unpooled variance (the normal approximation in every textbook, e.g. Chow, Shao &
// Wang, "Sample Size Calculations in Clinical Research", §4.2):  n = (z_{1−α/2} + z_{1−β})² · (p₁(1−p₁) + p₂(1−p₂)) / δ².
// The sequential (always-valid) test used by the A/B analysis pays for looking at every tick with somewhat more data
// when the true effect is exactly δ, and stops sooner when it is larger: n is the planning figure, not a promise.

/** Inverse standard normal CDF (Acklam's rational approximation, relative error < 1.2e-9). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError("p must be in (0, 1)");
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  if (p < lo) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  }
  if (p > 1 - lo) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) / (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1);
}

export interface TPowerInput {
  /** The control's rate now (e.g. 0.10 thumbs-up share). */
  baseline: number;
  /** Minimum detectable effect: the absolute difference in rate to detect (0.05 = five points). */
  mde: number;
  alpha?: number;
  power?: number;
}

/** Trials (rated answers, or requests for a success rate) per arm; null when the inputs admit no answer. */
export function sampleSizePerArm(input: TPowerInput): number | null {
  const { baseline: p1, mde } = input;
  const alpha = input.alpha ?? 0.05;
  const power = input.power ?? 0.8;
  if (!(p1 >= 0 && p1 <= 1) || !(mde > 0)) return null;
  // The effect goes the way that stays inside [0, 1] (an improvement unless the baseline is near 1).
  const p2 = p1 + mde <= 1 ? p1 + mde : p1 - mde;
  if (p2 < 0) return null;
  const z = normalQuantile(1 - alpha / 2) + normalQuantile(power);
  const variance = p1 * (1 - p1) + p2 * (1 - p2);
  if (variance === 0) return null;
  return Math.ceil((z * z * variance) / (mde * mde));
}

export interface TDurationInput extends TPowerInput {
  /** Requests per minute the endpoint takes now (all variants together). */
  requestsPerMinute: number;
  /** Variant b's share, basis points. */
  splitBps: number;
  /** Trials per request: the share of requests that get rated for a feedback metric; 1 for the success rate. */
  trialsPerRequest?: number;
}

/** Minutes until both arms have the sample size at the current traffic and split; null without traffic or answer. */
export function expectedDuration(input: TDurationInput): { perArm: number; minutes: number } | null {
  const perArm = sampleSizePerArm(input);
  if (perArm === null) return null;
  const perMinute = input.requestsPerMinute * (input.trialsPerRequest ?? 1);
  const smaller = Math.min(input.splitBps, 10_000 - input.splitBps) / 10_000;
  if (!(perMinute > 0) || !(smaller > 0)) return null;
  return { perArm, minutes: perArm / (perMinute * smaller) };
}
