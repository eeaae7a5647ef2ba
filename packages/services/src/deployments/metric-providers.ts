// Where the rollout analysis reads a variant's traffic from (the role of Argo Rollouts' metric providers):
// - gateway-windows (default): the per-variant windows our gateway writes to Postgres;
// - prometheus: PromQL over vLLM's own per-adapter series, for clusters where traffic moves through the cluster's
//   gateway (Gateway API, Istio) and our gateway sees none of it. The queries are templates, so a site can point them
//   at its mesh's error counters; what was asked is kept with every decision.
import { type Db, listServingWindows, type TDeploymentRow } from "@loraplane/db";
import { emptyHistogram, recordValue, summarizeWindows, type TVariantStats } from "@loraplane/core";

export interface TVariantRef {
  id: string;
  servedModelName: string;
}

export interface TProviderStats {
  stats: TVariantStats;
  /** The queries behind the numbers (shown in the rollout timeline). */
  queries: string[];
}

export interface TMetricProvider {
  readonly kind: "gateway-windows" | "prometheus";
  variantStats(d: Pick<TDeploymentRow, "id">, variant: TVariantRef, since: Date, now: Date): Promise<TProviderStats>;
}

/** Longest window a gateway writes; bounds the look-back for the window that contains the step start. */
const MAX_WINDOW_MS = 60_000;

/**
 * The variant's gateway windows that overlap [since, now]. The window containing `since` counts (it holds the
 * step's first seconds, and a breach in them must not wait for the next window).
 */
export function gatewayWindowsProvider(db: Db): TMetricProvider {
  return {
    kind: "gateway-windows",
    async variantStats(d, variant, since) {
      const windows = await listServingWindows(db, { deploymentId: d.id, variantId: variant.id, since: new Date(since.getTime() - MAX_WINDOW_MS) });
      return { stats: summarizeWindows(windows.filter((w) => w.windowStart.getTime() + w.windowSeconds * 1000 > since.getTime())), queries: [] };
    },
  };
}

/**
 * PromQL templates over vLLM's cumulative series; {{model}} is the served adapter name (vLLM's model_name label).
 * Each is evaluated at the step's start and at now and the difference taken: exact counts for exactly the step, where
 * increase() over a range would extrapolate and reach back before the step.
 */
export const VLLM_QUERIES = {
  requests: 'sum(vllm:e2e_request_latency_seconds_count{model_name="{{model}}"})',
  // vLLM counts requests it finished abnormally as finished_reason="abort"; a mesh's 5xx counter can replace this.
  errors: 'sum(vllm:request_success_total{model_name="{{model}}",finished_reason="abort"})',
  latencyBuckets: 'sum by (le) (vllm:e2e_request_latency_seconds_bucket{model_name="{{model}}"})',
  ttftBuckets: 'sum by (le) (vllm:time_to_first_token_seconds_bucket{model_name="{{model}}"})',
  outputTokens: 'sum(vllm:generation_tokens_total{model_name="{{model}}"})',
} as const;
export type TPromQueries = typeof VLLM_QUERIES;

interface TPromSample {
  metric: Record<string, string>;
  value: [number, string];
}

/** The label value goes into a PromQL string literal: quotes and backslashes are escaped. */
function render(template: string, model: string): string {
  return template.replaceAll("{{model}}", model.replace(/\\/g, "\\\\").replace(/"/g, '\\"'));
}

/**
 * `now − then` per label set (matched on `le`). A series missing at `then` started during the step (counts from 0);
 * a negative difference means the counter was reset (a pod restarted), and the later value alone is what is known.
 */
export function diffSamples(then: readonly TPromSample[], now: readonly TPromSample[]): TPromSample[] {
  const before = new Map(then.map((s) => [s.metric.le ?? "", Number(s.value[1])]));
  return now.map((s) => {
    const v = Number(s.value[1]);
    const b = before.get(s.metric.le ?? "") ?? 0;
    return { metric: s.metric, value: [s.value[0], String(v >= b ? v - b : v)] };
  });
}

/**
 * Prometheus buckets (cumulative, `le` in seconds) → our fixed millisecond histogram: each bucket's count is placed
 * at the middle of its range, so quantiles of the result stay inside the bucket Prometheus would interpolate in.
 */
export function promBucketsToHistogram(samples: readonly TPromSample[]): number[] {
  const buckets = samples
    .map((s) => ({ le: s.metric.le === "+Inf" ? Number.POSITIVE_INFINITY : Number(s.metric.le), count: Number(s.value[1]) }))
    .filter((b) => Number.isFinite(b.count) && !Number.isNaN(b.le))
    .sort((a, b) => a.le - b.le);
  const hist = emptyHistogram();
  let prevLe = 0;
  let prevCount = 0;
  for (const b of buckets) {
    const n = Math.max(0, Math.round(b.count - prevCount));
    const upper = Number.isFinite(b.le) ? b.le : prevLe * 2 || 1;
    if (n > 0) recordValue(hist, ((prevLe + upper) / 2) * 1000, n);
    prevLe = upper;
    prevCount = Math.max(prevCount, b.count);
  }
  return hist;
}

export function prometheusProvider(o: { url: string; queries?: Partial<TPromQueries>; timeoutMs?: number }): TMetricProvider {
  const queries = { ...VLLM_QUERIES, ...o.queries };
  const base = o.url.replace(/\/+$/, "");
  async function query(promql: string, at: Date): Promise<TPromSample[]> {
    const url = `${base}/api/v1/query?${new URLSearchParams({ query: promql, time: (at.getTime() / 1000).toFixed(3) })}`;
    const res = await fetch(url, { signal: AbortSignal.timeout(o.timeoutMs ?? 5000) });
    const body = (await res.json().catch(() => null)) as { status?: string; error?: string; data?: { resultType: string; result: TPromSample[] } } | null;
    if (!res.ok || body?.status !== "success" || !body.data) throw new Error(`Prometheus query failed (HTTP ${res.status}): ${body?.error ?? "no answer"} — ${promql}`);
    return body.data.result;
  }
  const during = async (promql: string, since: Date, now: Date) => diffSamples(await query(promql, since), await query(promql, now));
  const scalar = (r: TPromSample[]) => Math.max(0, Math.round(Number(r[0]?.value[1] ?? 0)) || 0);
  return {
    kind: "prometheus",
    async variantStats(_d, variant, since, now) {
      const q = {
        requests: render(queries.requests, variant.servedModelName),
        errors: render(queries.errors, variant.servedModelName),
        latency: render(queries.latencyBuckets, variant.servedModelName),
        ttft: render(queries.ttftBuckets, variant.servedModelName),
        tokens: render(queries.outputTokens, variant.servedModelName),
      };
      const [requests, errors, latency, ttft, tokens] = await Promise.all(Object.values(q).map((promql) => during(promql, since, now)));
      const stats = summarizeWindows([
        {
          requests: scalar(requests!),
          errors: Math.min(scalar(errors!), scalar(requests!)),
          timeouts: 0,
          latencyHist: promBucketsToHistogram(latency!),
          ttftHist: promBucketsToHistogram(ttft!),
          outputTokens: scalar(tokens!),
          // Thumbs-up/down exist only where our gateway (or the feedback API) records them.
          feedbackUp: 0,
          feedbackDown: 0,
        },
      ]);
      const at = (t: Date) => t.toISOString();
      return { stats, queries: Object.values(q).map((promql) => `${promql} @ ${at(now)} − @ ${at(since)}`) };
    },
  };
}
