import { histogramQuantile, mergeHistograms } from "../stats/histogram";
import { holmRejections, sequentialLogLatency, sequentialProportions, type TSequentialResult } from "../stats/sequential";
import { mannWhitneyUHistograms, twoProportionZTest } from "../stats/significance";
import type { TAbPolicy, TRolloutPolicy } from "./policy";

/** The ServingWindow columns the analysis reads. */
export interface TWindowLike {
  requests: number;
  errors: number;
  timeouts: number;
  latencyHist: readonly number[];
  ttftHist: readonly number[];
  outputTokens: number;
  feedbackUp: number;
  feedbackDown: number;
}

export interface TVariantStats {
  requests: number;
  errors: number;
  errorRate: number;
  p50LatencyMs: number | null;
  p95LatencyMs: number | null;
  p99LatencyMs: number | null;
  ttftP50Ms: number | null;
  ttftP95Ms: number | null;
  outputTokens: number;
  feedbackUp: number;
  feedbackDown: number;
  latencyHist: number[];
  ttftHist: number[];
}

export function summarizeWindows(windows: readonly TWindowLike[]): TVariantStats {
  const latencyHist = mergeHistograms(...windows.map((w) => w.latencyHist));
  const ttftHist = mergeHistograms(...windows.map((w) => w.ttftHist));
  let requests = 0;
  let errors = 0;
  let outputTokens = 0;
  let feedbackUp = 0;
  let feedbackDown = 0;
  for (const w of windows) {
    requests += w.requests;
    errors += w.errors;
    outputTokens += w.outputTokens;
    feedbackUp += w.feedbackUp;
    feedbackDown += w.feedbackDown;
  }
  return {
    requests,
    errors,
    errorRate: requests > 0 ? errors / requests : 0,
    p50LatencyMs: histogramQuantile(latencyHist, 0.5),
    p95LatencyMs: histogramQuantile(latencyHist, 0.95),
    p99LatencyMs: histogramQuantile(latencyHist, 0.99),
    ttftP50Ms: histogramQuantile(ttftHist, 0.5),
    ttftP95Ms: histogramQuantile(ttftHist, 0.95),
    outputTokens,
    feedbackUp,
    feedbackDown,
    latencyHist,
    ttftHist,
  };
}

export interface TCheck {
  name: string;
  value: number | null;
  limit: number;
  passed: boolean;
}

/** Absolute SLO checks on one variant; a check without data passes (the request minimum guards judging). */
export function sloChecks(stats: TVariantStats, policy: TRolloutPolicy): TCheck[] {
  const { slo } = policy;
  return [
    { name: "p99_latency_ms", value: stats.p99LatencyMs, limit: slo.p99LatencyMs, passed: !(stats.p99LatencyMs! > slo.p99LatencyMs) },
    { name: "ttft_p95_ms", value: stats.ttftP95Ms, limit: slo.ttftP95Ms, passed: !(stats.ttftP95Ms! > slo.ttftP95Ms) },
    { name: "error_rate", value: stats.errorRate, limit: slo.errorRate, passed: !(stats.errorRate > slo.errorRate) },
  ];
}

/** Canary-versus-stable checks; skipped (empty) while stable has too little traffic in the window to compare. */
export function relativeChecks(canary: TVariantStats, stable: TVariantStats | null, policy: TRolloutPolicy): TCheck[] {
  if (!stable || stable.requests < policy.minRequestsForRollback || stable.p99LatencyMs === null) return [];
  const { relative } = policy;
  const checks: TCheck[] = [];
  if (canary.p99LatencyMs !== null) {
    const limit = Math.max(stable.p99LatencyMs * relative.maxP99Ratio, stable.p99LatencyMs + relative.minP99DiffMs);
    checks.push({ name: "p99_latency_vs_stable_ms", value: canary.p99LatencyMs, limit, passed: canary.p99LatencyMs <= limit });
  }
  const limit = stable.errorRate + relative.maxErrorRateIncrease;
  checks.push({ name: "error_rate_vs_stable", value: canary.errorRate, limit, passed: canary.errorRate <= limit });
  return checks;
}

export interface TAbResult {
  a: { requests: number; errorRate: number; p50LatencyMs: number | null; p99LatencyMs: number | null; feedbackUpRate: number | null };
  b: { requests: number; errorRate: number; p50LatencyMs: number | null; p99LatencyMs: number | null; feedbackUpRate: number | null };
  latency: { pValue: number; z: number; bFasterProbability: number; significant: boolean };
  errorRate: { pValue: number; diff: number; significant: boolean };
  feedback: { pValue: number; diff: number; significant: boolean; samples: number };
  method: "sequential" | "fixed";
  /**
   * Sequential mode: per metric the running estimate (b − a; latency as the difference of mean log-latency), its
   * always-valid interval and p-value, and the decision boundary log(1/α) the likelihood ratio is compared with.
   */
  sequential?: { latencyLog: TSequentialResult; errorRate: TSequentialResult; feedback: TSequentialResult; holmAlpha: number };
}

/**
 * Per-variant results with significance. Sequential (default): mSPRT on thumbs-up share, error rate and log-latency,
 * Holm-corrected so the three together keep the family-wise error at α at every look. Fixed: Mann-Whitney U on
 * latency, two-proportion z on errors and thumbs-up, each at α (valid only for one look).
 */
export function compareAb(a: TVariantStats, b: TVariantStats, policy: Pick<TAbPolicy, "alpha"> & { method?: TAbPolicy["method"] }): TAbResult {
  if ((policy.method ?? "sequential") === "sequential") return compareAbSequential(a, b, policy.alpha);
  const mw = mannWhitneyUHistograms(a.latencyHist, b.latencyHist);
  const err = twoProportionZTest(a.errors, a.requests, b.errors, b.requests);
  const fa = a.feedbackUp + a.feedbackDown;
  const fb = b.feedbackUp + b.feedbackDown;
  const fbTest = twoProportionZTest(a.feedbackUp, fa, b.feedbackUp, fb);
  const side = (s: TVariantStats, n: number) => ({
    requests: s.requests,
    errorRate: s.errorRate,
    p50LatencyMs: s.p50LatencyMs,
    p99LatencyMs: s.p99LatencyMs,
    feedbackUpRate: n > 0 ? s.feedbackUp / n : null,
  });
  return {
    a: side(a, fa),
    b: side(b, fb),
    // U counts pairs where a's latency exceeds b's: the probability that b is faster than a.
    latency: { pValue: mw.pValue, z: mw.z, bFasterProbability: mw.commonLanguageEffect, significant: mw.pValue < policy.alpha },
    errorRate: { pValue: err.pValue, diff: err.diff, significant: err.pValue < policy.alpha },
    feedback: { pValue: fbTest.pValue, diff: fbTest.diff, significant: fbTest.pValue < policy.alpha, samples: fa + fb },
    method: "fixed",
  };
}

function side(s: TVariantStats, feedbackTotal: number): TAbResult["a"] {
  return { requests: s.requests, errorRate: s.errorRate, p50LatencyMs: s.p50LatencyMs, p99LatencyMs: s.p99LatencyMs, feedbackUpRate: feedbackTotal > 0 ? s.feedbackUp / feedbackTotal : null };
}

function compareAbSequential(a: TVariantStats, b: TVariantStats, alpha: number): TAbResult {
  const fa = a.feedbackUp + a.feedbackDown;
  const fb = b.feedbackUp + b.feedbackDown;
  const latencyLog = sequentialLogLatency(a.latencyHist, b.latencyHist, { alpha });
  const errorRate = sequentialProportions(a.errors, a.requests, b.errors, b.requests, { alpha, tau: 0.02 });
  const feedback = sequentialProportions(a.feedbackUp, fa, b.feedbackUp, fb, { alpha, tau: 0.05 });
  const [latencySig, errorSig, feedbackSig] = holmRejections([latencyLog.pValue, errorRate.pValue, feedback.pValue], alpha);
  const mw = mannWhitneyUHistograms(a.latencyHist, b.latencyHist);
  return {
    a: side(a, fa),
    b: side(b, fb),
    // Positive log-latency difference = b slower; P(b faster) is the common-language effect of the two histograms.
    latency: {
      pValue: latencyLog.pValue,
      z: Number.isFinite(latencyLog.se) && latencyLog.se > 0 ? -latencyLog.estimate / latencyLog.se : 0,
      bFasterProbability: mw.commonLanguageEffect,
      significant: latencySig!,
    },
    errorRate: { pValue: errorRate.pValue, diff: errorRate.estimate, significant: errorSig! },
    feedback: { pValue: feedback.pValue, diff: feedback.estimate, significant: feedbackSig!, samples: fa + fb },
    method: "sequential",
    sequential: { latencyLog, errorRate, feedback, holmAlpha: alpha },
  };
}

