// Evaluation gate: compares reported metrics with the spec's thresholds. A missing metric fails its threshold — a gate
// must never pass because the evaluation forgot to report something.
import type { TThreshold } from "./spec.ts";

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
