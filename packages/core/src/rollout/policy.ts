import { z } from "zod";

const bps = z.number().int().min(0).max(10_000);

export const ZSloThresholds = z.object({
  /** Absolute ceiling on the variant's P99 end-to-end latency. */
  p99LatencyMs: z.number().positive().default(2_000),
  /** Absolute ceiling on the variant's P95 time to first token. */
  ttftP95Ms: z.number().positive().default(1_000),
  /** Absolute ceiling on the share of requests that fail (5xx, timeouts, upstream errors). */
  errorRate: z.number().min(0).max(1).default(0.05),
});

export const ZRelativeChecks = z.object({
  /** Canary P99 may be at most this multiple of stable's P99 … */
  maxP99Ratio: z.number().min(1).default(1.5),
  /** … unless the absolute difference is under this (avoids judging sub-millisecond noise). */
  minP99DiffMs: z.number().min(0).default(50),
  /** Canary error rate may exceed stable's by at most this much. */
  maxErrorRateIncrease: z.number().min(0).max(1).default(0.02),
});

export const ZCanaryPolicy = z.object({
  /** Canary weight per step, basis points, increasing; the last step must be 10000 (full promotion). */
  stepsBps: z
    .array(bps.min(1))
    .min(1)
    .default([500, 2_500, 5_000, 10_000])
    .refine((s) => s.every((v, i) => i === 0 || v > s[i - 1]!), "steps must increase")
    .refine((s) => s.at(-1) === 10_000, "the last step must be 10000 (100%)"),
  /** Analysis window per step: the canary must stay healthy this long before the next step. */
  stepSeconds: z.number().int().positive().default(60),
  /** Requests the canary must serve within a step before it can be judged healthy or promoted. */
  minRequests: z.number().int().min(1).default(50),
  /** When false the canary waits at its last step below 100% for a person to promote. */
  autoPromote: z.boolean().default(true),
});

export const ZBlueGreenPolicy = z.object({
  smokeRequests: z.number().int().min(0).max(100).default(3),
  /** Blue stays up (scaled, 0% traffic) this long after the switch so rollback is instant. */
  rollbackWindowSeconds: z.number().int().positive().default(300),
});

export const ZAbPolicy = z.object({
  /** Share of traffic to variant b. */
  splitBps: bps.default(5_000),
  durationSeconds: z.number().int().positive().default(3_600),
  minSamplesPerVariant: z.number().int().min(1).default(200),
  alpha: z.number().gt(0).lt(1).default(0.05),
  /**
   * sequential (default): always-valid mSPRT p-values and confidence sequences, Holm-corrected over the three metrics,
   * evaluated at every tick, so the experiment may stop as soon as the evidence is clear. fixed: the classic
   * fixed-horizon tests, valid only if looked at once (kept for comparison).
   */
  method: z.enum(["sequential", "fixed"]).default("sequential"),
  /** When false (default) a person decides with the computed results in front of them. */
  autoDecide: z.boolean().default(false),
  /**
   * fixed (default): the split stays at splitBps. thompson: every analysis tick the split is recomputed as each
   * variant's posterior probability of being best on `metric` (Beta posteriors, Thompson sampling), never below
   * floorBps per variant; the experiment ends once one variant is best with probability >= confidence.
   */
  allocation: z
    .object({
      mode: z.enum(["fixed", "thompson"]).default("fixed"),
      /** success: 1 − error rate of the variant's requests; feedback: thumbs-up share of its rated answers. */
      metric: z.enum(["success", "feedback"]).default("feedback"),
      floorBps: z.number().int().min(0).max(5_000).default(1_000),
      confidence: z.number().gt(0.5).lt(1).default(0.95),
      /** A reweight smaller than this is not applied (avoids a routing change every tick for noise). */
      minChangeBps: z.number().int().min(1).max(5_000).default(200),
    })
    .default({ mode: "fixed", metric: "feedback", floorBps: 1_000, confidence: 0.95, minChangeBps: 200 }),
});

export const ZShadowPolicy = z
  .object({
    /** Mirror traffic to the candidate before any user sees it; the canary starts only once this gate passes. */
    enabled: z.boolean().default(false),
    /** Share of the stable's live requests the gateway copies to the candidate. */
    fraction: z.number().gt(0).max(1).default(0.2),
    /** Scored pairs needed before the gate is judged. */
    minSamples: z.number().int().min(1).max(10_000).default(50),
    /** Mean ROUGE-L F1 between the candidate's and the stable's answers must be at least this. */
    minAgreement: z.number().min(0).max(1).default(0.5),
    /** Share of the candidate's answers that are refusals, at most. */
    maxRefusalRate: z.number().min(0).max(1).default(0.1),
    /** The candidate's P99 latency on mirrored requests, at most. */
    maxLatencyP99Ms: z.number().positive().default(5_000),
    /** Share of mirrored requests the candidate fails (HTTP error, timeout), at most. */
    maxErrorRate: z.number().min(0).max(1).default(0.05),
    /** Mirrored requests in flight per gateway; a request beyond it is not mirrored (dropped, never queued). */
    maxConcurrent: z.number().int().min(1).max(256).default(4),
    /** Pairs kept per deployment (answers are stored); mirroring stops once this many are stored. */
    maxStoredSamples: z.number().int().min(1).max(10_000).default(500),
    /** Without minSamples by then the shadow phase fails (too little traffic to judge the candidate). */
    maxDurationSeconds: z.number().int().positive().default(3_600),
    /**
     * LLM judge (optional): a model behind an OpenAI-compatible endpoint, configured on the workers (LORAPLANE_JUDGE_*),
     * scores each stored pair 1-10 (candidate against the stable's answer); the mean must be at least minScore.
     */
    judge: z
      .object({
        enabled: z.boolean().default(false),
        minScore: z.number().min(1).max(10).default(6),
      })
      .default({ enabled: false, minScore: 6 }),
  })
  .refine((s) => s.minSamples <= s.maxStoredSamples, { message: "minSamples must be <= maxStoredSamples", path: ["minSamples"] });

export const ZRolloutPolicy = z.object({
  slo: ZSloThresholds.default(ZSloThresholds.parse({})),
  relative: ZRelativeChecks.default(ZRelativeChecks.parse({})),
  canary: ZCanaryPolicy.default(ZCanaryPolicy.parse({})),
  blueGreen: ZBlueGreenPolicy.default(ZBlueGreenPolicy.parse({})),
  ab: ZAbPolicy.default(ZAbPolicy.parse({})),
  /** Canary only: shadow evaluation before the first step (disabled unless enabled: true). */
  shadow: ZShadowPolicy.default(ZShadowPolicy.parse({})),
  /** Minimum requests before an absolute SLO breach triggers an automatic rollback. */
  minRequestsForRollback: z.number().int().min(1).default(20),
  /** Header whose value keeps a user on one variant. */
  stickyHeader: z
    .string()
    .regex(/^[a-z0-9-]+$/, "must be a lower-case header name")
    .default("x-user-id"),
  automaticRollback: z.boolean().default(true),
});

export type TSloThresholds = z.infer<typeof ZSloThresholds>;
export type TRelativeChecks = z.infer<typeof ZRelativeChecks>;
export type TCanaryPolicy = z.infer<typeof ZCanaryPolicy>;
export type TBlueGreenPolicy = z.infer<typeof ZBlueGreenPolicy>;
export type TAbPolicy = z.infer<typeof ZAbPolicy>;
export type TShadowPolicy = z.infer<typeof ZShadowPolicy>;
export type TRolloutPolicy = z.infer<typeof ZRolloutPolicy>;
export type TRolloutPolicyInput = z.input<typeof ZRolloutPolicy>;

export interface TEvalOutcome {
  metric: string;
  value: number;
  threshold: number | null;
  comparator: string | null;
  blocking: boolean;
  passed: boolean | null;
}

/**
 * Relative margin by which a result cleared its threshold (0.04 = 4% better than required); null when the metric has
 * no threshold to compare with. Eval metrics live in [0, 1]: a perfect score (1 for ">=", 0 for "<=") cleared its
 * threshold by all there was to clear, however close the threshold sits to it, so it is never a narrow pass.
 */
export function evalMargin(r: TEvalOutcome): number | null {
  if (r.threshold === null || r.comparator === null) return null;
  const scale = Math.max(Math.abs(r.threshold), 1e-9);
  switch (r.comparator) {
    case ">=":
    case ">":
      return r.value >= 1 ? Number.POSITIVE_INFINITY : (r.value - r.threshold) / scale;
    case "<=":
    case "<":
      return r.value <= 0 ? Number.POSITIVE_INFINITY : (r.threshold - r.value) / scale;
    default:
      return null;
  }
}

/**
 * Feeds the offline gate into the live rollout: a version whose blocking metrics cleared their thresholds by less
 * than `narrowMargin` gets a slower canary (an extra 1% first step, twice the analysis window, twice the requests),
 * so the gate's doubt becomes extra live evidence instead of being forgotten.
 */
export function adjustPolicyForEval(
  policy: TRolloutPolicy,
  results: readonly TEvalOutcome[],
  narrowMargin = 0.05,
): { policy: TRolloutPolicy; adjustments: string[] } {
  const narrow = results
    .filter((r) => r.blocking && r.passed !== false)
    .map((r) => ({ r, margin: evalMargin(r) }))
    .filter((x): x is { r: TEvalOutcome; margin: number } => x.margin !== null && x.margin >= 0 && x.margin < narrowMargin);
  if (narrow.length === 0) return { policy, adjustments: [] };
  const steps = policy.canary.stepsBps[0]! > 100 ? [100, ...policy.canary.stepsBps] : policy.canary.stepsBps;
  const adjusted: TRolloutPolicy = {
    ...policy,
    canary: {
      stepsBps: steps,
      stepSeconds: policy.canary.stepSeconds * 2,
      minRequests: policy.canary.minRequests * 2,
      autoPromote: policy.canary.autoPromote,
    },
  };
  const which = narrow.map(({ r, margin }) => `${r.metric} ${r.value} vs ${r.comparator} ${r.threshold} (margin ${(margin * 100).toFixed(1)}%)`);
  return {
    policy: adjusted,
    adjustments: [`narrow gate pass: ${which.join(", ")} → slower canary (steps ${steps.join("/")} bps, ${adjusted.canary.stepSeconds}s per step)`],
  };
}

/** The pipeline spec's `deploy` section, as far as the rollout is concerned. */
export interface TDeploySpecLike {
  canary: { steps: number[]; analysisWindowSeconds: number; minRequests: number };
  slo: { p99LatencyMs: number; ttftP95Ms: number; maxErrorRate: number; vsStable?: Partial<TRelativeChecks> | undefined };
  autoPromote: boolean;
  shadow?: Partial<Omit<TShadowPolicy, "enabled" | "judge">> & { enabled?: boolean; judge?: { minScore: number } | undefined };
  ab?: { allocation?: Partial<TAbPolicy["allocation"]> };
}

export function policyFromDeploySpec(spec: TDeploySpecLike): TRolloutPolicy {
  return ZRolloutPolicy.parse({
    slo: { p99LatencyMs: spec.slo.p99LatencyMs, ttftP95Ms: spec.slo.ttftP95Ms, errorRate: spec.slo.maxErrorRate },
    ...(spec.slo.vsStable ? { relative: spec.slo.vsStable } : {}),
    canary: {
      stepsBps: spec.canary.steps,
      stepSeconds: spec.canary.analysisWindowSeconds,
      minRequests: Math.max(1, spec.canary.minRequests),
      autoPromote: spec.autoPromote,
    },
    ab: { autoDecide: spec.autoPromote, ...(spec.ab?.allocation ? { allocation: spec.ab.allocation } : {}) },
    ...(spec.shadow ? { shadow: { enabled: true, ...spec.shadow, ...(spec.shadow.judge ? { judge: { enabled: true, ...spec.shadow.judge } } : {}) } } : {}),
  });
}
