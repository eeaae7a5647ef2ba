// Evaluation gate: compares reported metrics with the spec's thresholds. A missing metric fails its threshold — a gate
// must never pass because the evaluation forgot to report something.
import { z } from "zod";
import { KNOWN_METRICS, type TPipelineSpec, type TReviewSpec, type TThreshold } from "./spec.ts";

export interface TGateCheck {
  metric: string;
  value: number | null;
  comparator: TThreshold["comparator"];
  threshold: number;
  blocking: boolean;
  passed: boolean;
  reason: string;
}

export interface TGateResult {
  /** False when any blocking threshold failed. */
  passed: boolean;
  checks: TGateCheck[];
  /** One line naming every failed blocking threshold, or null when the gate passed. */
  reason: string | null;
}

const COMPARE: Record<TThreshold["comparator"], (a: number, b: number) => boolean> = {
  ">=": (a, b) => a >= b,
  ">": (a, b) => a > b,
  "<=": (a, b) => a <= b,
  "<": (a, b) => a < b,
};

const fmt = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(4).replace(/0+$/, ""));

export function evaluateGate(thresholds: readonly TThreshold[], metrics: Readonly<Record<string, number | undefined>>): TGateResult {
  const checks = thresholds.map((t): TGateCheck => {
    const raw = metrics[t.metric];
    const value = typeof raw === "number" && Number.isFinite(raw) ? raw : null;
    const kind = t.blocking ? "blocking" : "advisory";
    if (value === null) {
      return { ...t, threshold: t.value, value, passed: false, reason: `${t.metric} was not reported (${kind} threshold ${t.comparator} ${fmt(t.value)})` };
    }
    const passed = COMPARE[t.comparator](value, t.value);
    const reason = passed
      ? `${t.metric} = ${fmt(value)} ${t.comparator} ${fmt(t.value)}: passed`
      : `${t.metric} = ${fmt(value)}, needs ${t.comparator} ${fmt(t.value)} (${kind})`;
    return { metric: t.metric, value, comparator: t.comparator, threshold: t.value, blocking: t.blocking, passed, reason };
  });
  const failed = checks.filter((c) => c.blocking && !c.passed);
  return {
    passed: failed.length === 0,
    checks,
    reason: failed.length === 0 ? null : `blocked by the evaluation gate: ${failed.map((c) => c.reason).join("; ")}`,
  };
}

/** One threshold changed for one run's gate by an admin or approver (stored on the run, audited with the old value). */
export const ZGateOverride = z.object({
  metric: z.enum(KNOWN_METRICS, { error: `must be one of ${KNOWN_METRICS.join(", ")}` }),
  comparator: z.enum([">=", ">", "<=", "<"]).default(">="),
  value: z.number().min(0, "must be in [0, 1]").max(1, "must be in [0, 1]"),
});
export type TGateOverride = z.infer<typeof ZGateOverride>;
/** What the override action accepts: at least one threshold and a reason for the audit log. */
export const ZGateOverrideInput = z.object({
  thresholds: z.array(ZGateOverride).min(1, "must change at least one threshold").max(KNOWN_METRICS.length),
  reason: z.string().trim().min(3, "must say why (at least 3 characters)").max(500),
});
export type TGateOverrideInput = z.input<typeof ZGateOverrideInput>;

/**
 * The thresholds this run's gate applies: the spec's, eval.requireHumanReviewPassRate as a blocking threshold (unless
 * one on human_review_pass_rate exists), then the run's own overrides replacing the threshold on the same metric.
 */
export function gateThresholds(spec: Pick<TPipelineSpec, "eval">, overrides: readonly TGateOverride[] = []): TThreshold[] {
  const thresholds = [...spec.eval.thresholds];
  const required = spec.eval.requireHumanReviewPassRate;
  if (required !== undefined && !thresholds.some((t) => t.metric === "human_review_pass_rate")) {
    thresholds.push({ metric: "human_review_pass_rate", comparator: ">=", value: required, blocking: true });
  }
  return thresholds.map((t) => {
    const o = overrides.find((x) => x.metric === t.metric);
    return o ? { ...t, comparator: o.comparator, value: o.value } : t;
  });
}

/** Problems with an override against the thresholds it would change, by field path (an override cannot add a metric). */
export function overrideProblems(current: readonly TThreshold[], overrides: readonly TGateOverride[]): { path: string; message: string }[] {
  const problems: { path: string; message: string }[] = [];
  const seen = new Set<string>();
  overrides.forEach((o, i) => {
    if (seen.has(o.metric)) problems.push({ path: `thresholds[${i}].metric`, message: `${o.metric} is listed twice` });
    seen.add(o.metric);
    if (!current.some((t) => t.metric === o.metric)) {
      problems.push({ path: `thresholds[${i}].metric`, message: `this run's gate has no threshold on ${o.metric} (it has: ${current.map((t) => t.metric).join(", ") || "none"})` });
    }
  });
  return problems;
}

export interface TReviewProgress {
  /** Samples that must be reviewed before the gate evaluates. */
  needed: number;
  reviewed: number;
  total: number;
  met: boolean;
}

/** How far a run's review is; a count above the number of recorded samples is capped so the quota can be met. */
export function reviewProgress(review: Pick<TReviewSpec, "minReviewed">, counts: { reviewed: number; total: number }): TReviewProgress {
  const { minReviewed } = review;
  const needed = minReviewed === "all" ? counts.total : minReviewed < 1 ? Math.ceil(minReviewed * counts.total) : Math.min(minReviewed, counts.total);
  return { needed, reviewed: counts.reviewed, total: counts.total, met: counts.reviewed >= needed };
}
