// The demo's before/after table: the base model's eval report next to the fine-tuned adapter's, overall and per task,
// both as gpu-runtime's `evaluate` wrote them (eval_report.json). Nothing here computes a metric.
import { z } from "zod";

const ZMetrics = z.record(z.string(), z.number());

export const ZEvalReportMetrics = z.object({
  metrics: ZMetrics,
  // gpu-runtime ≥ issue 13: corpus metrics per row `task` (the demo data names one); absent in older reports.
  metricsByTask: z.record(z.string(), ZMetrics).optional(),
  numSamples: z.number().int().nonnegative(),
  split: z.string().optional(),
});
export type TEvalReportMetrics = z.infer<typeof ZEvalReportMetrics>;

export const BEFORE_AFTER_METRICS = ["exact_match", "rouge_l", "bleu"] as const;

const fmt = (v: number | undefined) => (v === undefined ? "  –  " : v.toFixed(3));

/** Lines of a fixed-width table: one row for the whole split, then one per task present in either report. */
export function formatBeforeAfter(before: TEvalReportMetrics, after: TEvalReportMetrics, metrics: readonly string[] = BEFORE_AFTER_METRICS): string[] {
  const tasks = [...new Set([...Object.keys(before.metricsByTask ?? {}), ...Object.keys(after.metricsByTask ?? {})])].sort();
  const rows: { name: string; n: number; b: Record<string, number>; a: Record<string, number> }[] = [
    { name: "all", n: after.numSamples, b: before.metrics, a: after.metrics },
    ...tasks.map((t) => ({
      name: t,
      n: after.metricsByTask?.[t]?.numSamples ?? before.metricsByTask?.[t]?.numSamples ?? 0,
      b: before.metricsByTask?.[t] ?? {},
      a: after.metricsByTask?.[t] ?? {},
    })),
  ];
  const nameWidth = Math.max(4, ...rows.map((r) => r.name.length));
  const cell = 15; // "0.000 → 0.000"
  const line = (name: string, n: string, cells: string[]) => `${name.padEnd(nameWidth)}  ${n.padStart(4)}  ${cells.map((c) => c.padEnd(cell)).join("  ")}`.trimEnd();
  const body = rows.map((r) => line(r.name, String(r.n), metrics.map((m) => `${fmt(r.b[m])} → ${fmt(r.a[m])}`)));
  return [line("task", "rows", [...metrics]), "-".repeat(Math.max(...body.map((l) => l.length))), ...body];
}
