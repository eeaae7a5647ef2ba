import { compareAb, relativeChecks, sloChecks, type TAbResult, type TCheck, type TVariantStats } from "./analysis";
import { seedOf, thompsonAllocation, type TArm } from "./adaptive";
import type { TRolloutPolicy } from "./policy";

export type TRolloutAction =
  /** Keep the current weights and look again later. */
  | { action: "wait"; reason: string }
  /** Move the canary to the next step's weight. */
  | { action: "advance"; step: number; weightBps: number; reason: string }
  /** Give the new version 100% and finish the deployment. */
  | { action: "promote"; reason: string }
  /** Send all traffic back to the last known good version and finish the deployment as rolled back. */
  | { action: "rollback"; reason: string }
  /** Blue-green: the smoke test passed, switch all traffic to green. */
  | { action: "switch"; reason: string }
  /** A/B: results are in; a person decides (recorded once). */
  | { action: "await_decision"; reason: string }
  /** Adaptive A/B: move the split to b's new weight (the experiment goes on; its windows are not restarted). */
  | { action: "reweight"; weightBps: number; reason: string };

/** Adaptive allocation's view of one analysis: each variant's posterior P(best) and the split it asks for. */
export interface TAdaptiveResult {
  metric: "success" | "feedback";
  arms: { a: TArm; b: TArm };
  pBest: { a: number; b: number };
  weightsBps: { a: number; b: number };
  confidence: number;
}

export interface TDecision {
  decision: TRolloutAction;
  checks: TCheck[];
  ab?: TAbResult;
  adaptive?: TAdaptiveResult;
}

const fmt = (v: number | null) => (v === null ? "n/a" : Number.isInteger(v) ? String(v) : v.toFixed(v < 1 ? 4 : 1));
const describe = (failed: TCheck[]) => failed.map((c) => `${c.name} ${fmt(c.value)} > ${fmt(c.limit)}`).join(", ");

/** SLO and relative checks that decide a rollback; null when the new version may continue. */
function breach(candidate: TVariantStats, baseline: TVariantStats | null, policy: TRolloutPolicy): { checks: TCheck[]; reason: string | null } {
  const checks = [...sloChecks(candidate, policy), ...relativeChecks(candidate, baseline, policy)];
  if (candidate.requests < policy.minRequestsForRollback) return { checks, reason: null };
  const failed = checks.filter((c) => !c.passed);
  return { checks, reason: failed.length ? describe(failed) : null };
}

export interface TCanaryInput {
  policy: TRolloutPolicy;
  /** Index into policy.canary.stepsBps of the weight the canary has now. */
  currentStep: number;
  /** Milliseconds since the current step started taking traffic. */
  stepElapsedMs: number;
  /** The canary's windows since the current step started. */
  canary: TVariantStats;
  /** Stable's windows over the same time; null for a first deployment with no previous version. */
  stable: TVariantStats | null;
}

/**
 * One analysis of a canary step. A breach rolls back at once (no need to wait out the window: the request minimum
 * keeps it from judging noise); a healthy step advances only after its full window and its request minimum.
 */
export function decideCanary(input: TCanaryInput): TDecision {
  const { policy, currentStep, stepElapsedMs, canary, stable } = input;
  const steps = policy.canary.stepsBps;
  const { checks, reason } = breach(canary, stable, policy);
  if (reason !== null) {
    return {
      checks,
      decision: policy.automaticRollback
        ? { action: "rollback", reason: `SLO breach at step ${currentStep + 1}/${steps.length}: ${reason}` }
        : { action: "wait", reason: `SLO breach (automatic rollback disabled): ${reason}` },
    };
  }
  const windowMs = policy.canary.stepSeconds * 1000;
  if (stepElapsedMs < windowMs) {
    return { checks, decision: { action: "wait", reason: `analysis window ${Math.floor(stepElapsedMs / 1000)}s of ${policy.canary.stepSeconds}s` } };
  }
  if (canary.requests < policy.canary.minRequests) {
    return { checks, decision: { action: "wait", reason: `only ${canary.requests} of ${policy.canary.minRequests} requests in this step` } };
  }
  // Too few requests to roll back on a failing check is not evidence of health either: wait for the rollback minimum.
  const failing = checks.filter((c) => !c.passed);
  if (failing.length) {
    return { checks, decision: { action: "wait", reason: `${describe(failing)} over ${canary.requests} requests; judging at ${policy.minRequestsForRollback}` } };
  }
  const next = currentStep + 1;
  const healthy = `healthy for ${policy.canary.stepSeconds}s over ${canary.requests} requests (p99 ${fmt(canary.p99LatencyMs)} ms, errors ${fmt(canary.errorRate)})`;
  if (next >= steps.length || steps[next] === 10_000) {
    if (!policy.canary.autoPromote) return { checks, decision: { action: "await_decision", reason: `${healthy}; waiting for a manual promote` } };
    return { checks, decision: { action: "promote", reason: healthy } };
  }
  return { checks, decision: { action: "advance", step: next, weightBps: steps[next]!, reason: healthy } };
}

export interface TBlueGreenInput {
  policy: TRolloutPolicy;
  /** 0: green is up with no traffic (smoke test pending); 1: green has 100%, blue kept for instant rollback. */
  phase: 0 | 1;
  /** Result of the smoke test in phase 0; null while it has not run. */
  smoke: { passed: boolean; detail: string } | null;
  phaseElapsedMs: number;
  green: TVariantStats;
  blue: TVariantStats | null;
}

export function decideBlueGreen(input: TBlueGreenInput): TDecision {
  const { policy, phase, smoke, phaseElapsedMs, green, blue } = input;
  if (phase === 0) {
    if (smoke === null) return { checks: [], decision: { action: "wait", reason: "smoke test pending" } };
    if (!smoke.passed) return { checks: [], decision: { action: "rollback", reason: `smoke test failed: ${smoke.detail}` } };
    return { checks: [], decision: { action: "switch", reason: `smoke test passed: ${smoke.detail}` } };
  }
  const { checks, reason } = breach(green, blue, policy);
  if (reason !== null && policy.automaticRollback) return { checks, decision: { action: "rollback", reason: `SLO breach after switch: ${reason}` } };
  if (phaseElapsedMs < policy.blueGreen.rollbackWindowSeconds * 1000) {
    return { checks, decision: { action: "wait", reason: `rollback window ${Math.floor(phaseElapsedMs / 1000)}s of ${policy.blueGreen.rollbackWindowSeconds}s` } };
  }
  return { checks, decision: { action: "promote", reason: `green healthy through the ${policy.blueGreen.rollbackWindowSeconds}s rollback window; retiring blue` } };
}

export interface TAbInput {
  policy: TRolloutPolicy;
  elapsedMs: number;
  a: TVariantStats;
  b: TVariantStats;
  /** A decision already awaited: do not record it again. */
  alreadyAwaiting: boolean;
  /** Adaptive allocation: b's weight now (default: the configured split). */
  currentSplitBps?: number;
  /** Adaptive allocation: the sampler's seed (default: derived from the counts, so one input gives one answer). */
  seed?: number;
}

/**
 * A/B: b is still guarded by the absolute SLOs; the experiment ends after its duration or once both variants have
 * the sample size. With autoDecide, b wins only when it is not significantly worse on errors and significantly better
 * on feedback or latency; significantly worse loses; otherwise a stays (no evidence for change).
 */
export function decideAb(input: TAbInput): TDecision {
  const { policy, elapsedMs, a, b } = input;
  const checks = sloChecks(b, policy);
  const failed = checks.filter((c) => !c.passed);
  if (b.requests >= policy.minRequestsForRollback && failed.length && policy.automaticRollback) {
    return { checks, decision: { action: "rollback", reason: `variant b breached its SLO: ${describe(failed)}` } };
  }
  const ab = compareAb(a, b, policy.ab);
  if (policy.ab.allocation.mode === "thompson") return decideAdaptive(input, checks, ab);
  const enough = a.requests >= policy.ab.minSamplesPerVariant && b.requests >= policy.ab.minSamplesPerVariant;
  const done = elapsedMs >= policy.ab.durationSeconds * 1000;
  if (!enough && !done) {
    return { checks, ab, decision: { action: "wait", reason: `collecting samples: a ${a.requests}, b ${b.requests} of ${policy.ab.minSamplesPerVariant}` } };
  }
  // Sequential tests may be looked at every tick: without a significant result the experiment simply goes on until
  // its duration, and stops early as soon as one appears.
  const anySignificant = ab.latency.significant || ab.errorRate.significant || ab.feedback.significant;
  if (ab.method === "sequential" && !anySignificant && !done) {
    return { checks, ab, decision: { action: "wait", reason: `no significant difference yet (always-valid, Holm-corrected at α=${policy.ab.alpha}); a ${a.requests}, b ${b.requests} requests` } };
  }
  const summary =
    `latency p=${ab.latency.pValue.toExponential(2)} (P(b faster)=${ab.latency.bFasterProbability.toFixed(2)}), ` +
    `error rate Δ=${ab.errorRate.diff.toFixed(4)} p=${ab.errorRate.pValue.toFixed(4)}, ` +
    `feedback Δ=${ab.feedback.diff.toFixed(3)} p=${ab.feedback.pValue.toFixed(4)} (n=${ab.feedback.samples})`;
  if (!policy.ab.autoDecide) {
    if (input.alreadyAwaiting) return { checks, ab, decision: { action: "wait", reason: "waiting for a person to decide" } };
    return { checks, ab, decision: { action: "await_decision", reason: `experiment complete: ${summary}` } };
  }
  const bWorseErrors = ab.errorRate.significant && ab.errorRate.diff > 0;
  const bWorseLatency = ab.latency.significant && ab.latency.bFasterProbability < 0.5;
  const bWorseFeedback = ab.feedback.significant && ab.feedback.diff < 0;
  const bBetterFeedback = ab.feedback.significant && ab.feedback.diff > 0;
  const bBetterLatency = ab.latency.significant && ab.latency.bFasterProbability > 0.5;
  if (bWorseErrors || bWorseFeedback || (bWorseLatency && !bBetterFeedback)) {
    return { checks, ab, decision: { action: "rollback", reason: `b is significantly worse: ${summary}` } };
  }
  if (bBetterFeedback || bBetterLatency) return { checks, ab, decision: { action: "promote", reason: `b is significantly better: ${summary}` } };
  return { checks, ab, decision: { action: "rollback", reason: `no significant difference, keeping a: ${summary}` } };
}

function armOf(s: TVariantStats, metric: "success" | "feedback"): TArm {
  return metric === "success" ? { successes: s.requests - s.errors, failures: s.errors } : { successes: s.feedbackUp, failures: s.feedbackDown };
}

/**
 * Adaptive A/B: Thompson sampling over the primary metric's Beta posteriors sets the split every tick (with a floor per
 * variant); the experiment ends once both variants have the sample minimum and one is best with probability >=
 * confidence: b best → promote (or a person decides), a best → roll back. At the duration without a winner a stays.
 */
function decideAdaptive(input: TAbInput, checks: TCheck[], ab: TAbResult): TDecision {
  const { policy, elapsedMs, a, b } = input;
  const alloc = policy.ab.allocation;
  const arms = { a: armOf(a, alloc.metric), b: armOf(b, alloc.metric) };
  const seed = input.seed ?? seedOf(`${arms.a.successes}/${arms.a.failures}/${arms.b.successes}/${arms.b.failures}`);
  const t = thompsonAllocation([arms.a, arms.b], { floorBps: alloc.floorBps, seed });
  const adaptive: TAdaptiveResult = {
    metric: alloc.metric,
    arms,
    pBest: { a: t.pBest[0]!, b: t.pBest[1]! },
    weightsBps: { a: t.weightsBps[0]!, b: t.weightsBps[1]! },
    confidence: alloc.confidence,
  };
  const rateOf = (x: TArm) => (x.successes + x.failures > 0 ? (x.successes / (x.successes + x.failures)).toFixed(3) : "n/a");
  const summary =
    `${alloc.metric} a ${rateOf(arms.a)} (${arms.a.successes}/${arms.a.successes + arms.a.failures}), ` +
    `b ${rateOf(arms.b)} (${arms.b.successes}/${arms.b.successes + arms.b.failures}); P(b best) ${adaptive.pBest.b.toFixed(3)}`;
  const enough = a.requests >= policy.ab.minSamplesPerVariant && b.requests >= policy.ab.minSamplesPerVariant;
  const winner = adaptive.pBest.b >= alloc.confidence ? "b" : adaptive.pBest.a >= alloc.confidence ? "a" : null;
  const done = elapsedMs >= policy.ab.durationSeconds * 1000;
  if ((enough && winner) || done) {
    const reason = winner ? `${winner} is best with P ${adaptive.pBest[winner].toFixed(3)} >= ${alloc.confidence}: ${summary}` : `no variant best with P >= ${alloc.confidence} by the end; keeping a: ${summary}`;
    if (!policy.ab.autoDecide) {
      if (input.alreadyAwaiting) return { checks, ab, adaptive, decision: { action: "wait", reason: "waiting for a person to decide" } };
      return { checks, ab, adaptive, decision: { action: "await_decision", reason: `experiment complete: ${reason}` } };
    }
    if (winner === "b") return { checks, ab, adaptive, decision: { action: "promote", reason } };
    return { checks, ab, adaptive, decision: { action: "rollback", reason } };
  }
  const current = input.currentSplitBps ?? policy.ab.splitBps;
  if (Math.abs(adaptive.weightsBps.b - current) >= alloc.minChangeBps) {
    return { checks, ab, adaptive, decision: { action: "reweight", weightBps: adaptive.weightsBps.b, reason: `adaptive split b ${current} → ${adaptive.weightsBps.b} bps: ${summary}` } };
  }
  return { checks, ab, adaptive, decision: { action: "wait", reason: `adaptive: ${summary}; a ${a.requests}, b ${b.requests} requests` } };
}
