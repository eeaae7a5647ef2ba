import { type Db, findDeploymentById, listServingWindows, type TServingWindowRow } from "@loraplane/db";
import { summarizeWindows, type TVariantStats } from "@loraplane/core";
import { z } from "zod";
import { NotFoundError, parseInput } from "../errors.ts";

export const ZDeploymentMetricsQuery = z.object({
  deploymentId: z.string().min(1).max(64),
  since: z.coerce.date().optional(),
  until: z.coerce.date().optional(),
  /** Upper bound on points per series; windows are merged (histograms added) into coarser buckets to fit. */
  maxPoints: z.coerce.number().int().min(10).max(5_000).default(300),
});

export type TDeploymentMetricPoint = {
  t: string;
  requests: number;
  requestsPerSec: number;
  errorRate: number;
  p50LatencyMs: number | null;
  p95LatencyMs: number | null;
  p99LatencyMs: number | null;
  ttftP50Ms: number | null;
  ttftP95Ms: number | null;
  outputTokensPerSec: number;
};

export type TVariantMetrics = {
  variantId: string;
  role: string;
  modelVersionId: string;
  servedModelName: string;
  weightBps: number;
  status: string;
  summary: Omit<TVariantStats, "latencyHist" | "ttftHist">;
  series: TDeploymentMetricPoint[];
};

export type TDeploymentMetrics = { deploymentId: string; bucketSeconds: number; since: string; until: string; variants: TVariantMetrics[] };

/**
 * Per-variant latency (p50/p95/p99), TTFT, error rate and throughput over time. Windows from every gateway are merged
 * by adding histogram counts (exact, unlike averaging percentiles), into buckets sized to return at most maxPoints.
 */
export async function getDeploymentMetrics(db: Db, rawQuery: z.input<typeof ZDeploymentMetricsQuery>): Promise<TDeploymentMetrics> {
  const q = parseInput(ZDeploymentMetricsQuery, rawQuery);
  const d = await findDeploymentById(db, q.deploymentId);
  if (!d) throw new NotFoundError(`deployment ${q.deploymentId} not found`, [{ path: "deploymentId", message: "not found" }]);
  const until = q.until ?? new Date();
  // Windows are per deployment, so without `since` all of them count (the first one may start before createdAt).
  const windows = await listServingWindows(db, { deploymentId: d.id, since: q.since, until });
  const since = q.since ?? windows[0]?.windowStart ?? d.createdAt;
  const windowSeconds = windows.reduce((m, w) => Math.max(m, w.windowSeconds), 1);
  const rangeSeconds = Math.max(1, (until.getTime() - since.getTime()) / 1000);
  const bucketSeconds = Math.max(windowSeconds, Math.ceil(rangeSeconds / q.maxPoints / windowSeconds) * windowSeconds);
  const byVariant = new Map<string, TServingWindowRow[]>();
  for (const w of windows) {
    const list = byVariant.get(w.variantId) ?? [];
    list.push(w);
    byVariant.set(w.variantId, list);
  }
  const variants = d.variants.map((v): TVariantMetrics => {
    const rows = byVariant.get(v.id) ?? [];
    const buckets = new Map<number, TServingWindowRow[]>();
    for (const w of rows) {
      const key = Math.floor(w.windowStart.getTime() / 1000 / bucketSeconds) * bucketSeconds;
      const list = buckets.get(key) ?? [];
      list.push(w);
      buckets.set(key, list);
    }
    const series = [...buckets.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([key, ws]): TDeploymentMetricPoint => {
        const s = summarizeWindows(ws);
        return {
          t: new Date(key * 1000).toISOString(),
          requests: s.requests,
          requestsPerSec: s.requests / bucketSeconds,
          errorRate: s.errorRate,
          p50LatencyMs: s.p50LatencyMs,
          p95LatencyMs: s.p95LatencyMs,
          p99LatencyMs: s.p99LatencyMs,
          ttftP50Ms: s.ttftP50Ms,
          ttftP95Ms: s.ttftP95Ms,
          outputTokensPerSec: s.outputTokens / bucketSeconds,
        };
      });
    const { latencyHist: _l, ttftHist: _t, ...summary } = summarizeWindows(rows);
    return { variantId: v.id, role: v.role, modelVersionId: v.modelVersionId, servedModelName: v.servedModelName, weightBps: v.weightBps, status: v.status, summary, series };
  });
  return { deploymentId: d.id, bucketSeconds, since: since.toISOString(), until: until.toISOString(), variants };
}
