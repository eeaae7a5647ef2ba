"use client";
import { useQuery } from "@tanstack/react-query";
import { api, qs } from "@/lib/client/api";
import { effectiveShares, errorRateDomain, variantLabel } from "@/lib/client/deployments";
import { formatNumber, formatPercentBps, formatTime } from "@/lib/client/format";
import type { TRolloutEvent, TServingPoint, TVariant } from "@/lib/client/types";
import { MetricChart } from "./metric-chart";
import { Badge, Empty, ErrorState, Loading } from "./ui";

export const ROLE_COLOR: Record<string, string> = { stable: "#4f46e5", canary: "#d97706", blue: "#2563eb", green: "#16a34a", a: "#4f46e5", b: "#d97706" };

/** The share of requests each variant takes (the gateway normalises weights over the variants that take traffic). */
export function WeightsBar({ variants, state }: { variants: TVariant[]; state: string }) {
  const live = variants.filter((v) => v.weightBps > 0);
  const shares = effectiveShares(variants);
  const label = (v: TVariant) => `${variantLabel(state, v)} ${formatPercentBps(shares.get(v.id) ?? 0)}`;
  return (
    <div className="weights-bar" role="img" aria-label={live.length ? live.map(label).join(", ") : "no traffic"}>
      {live.map((v) => (
        <div key={v.id} style={{ width: `${(shares.get(v.id) ?? 0) / 100}%`, background: ROLE_COLOR[state === "promoted" ? "stable" : v.role] ?? "#71717a" }} title={label(v)}>
          {(shares.get(v.id) ?? 0) >= 1200 ? label(v) : ""}
        </div>
      ))}
      {!live.length && <div style={{ width: "100%", color: "var(--muted)" }}>no traffic</div>}
    </div>
  );
}

type TLoose = Record<string, unknown>;

function num(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

/** The metrics response (`variants[].series[]`) as chart-ready points; a missing quantile stays null, not 0. */
export function servingSeries(data: unknown): { variantId: string; role?: string; points: TServingPoint[] }[] {
  const root = (data ?? {}) as TLoose;
  const list = (Array.isArray(root.variants) ? root.variants : []) as TLoose[];
  return list.map((s) => ({
    variantId: String(s.variantId ?? ""),
    role: typeof s.role === "string" ? s.role : undefined,
    points: ((Array.isArray(s.series) ? s.series : []) as TLoose[]).map((p) => ({
      t: String(p.t ?? ""),
      p50: num(p.p50LatencyMs),
      p95: num(p.p95LatencyMs),
      p99: num(p.p99LatencyMs),
      ttftP95: num(p.ttftP95Ms),
      errorRate: num(p.errorRate),
      rps: num(p.requestsPerSec),
    })),
  }));
}

/** Milliseconds with a decimal below 10 ms, so a fast series' ticks do not all read "1 ms". */
const formatMs = (v: number) => `${v < 10 ? v.toFixed(1).replace(/\.0$/, "") : Math.round(v)} ms`;

const timeLabel = (v: number | string) => new Date(typeof v === "number" ? v : Date.parse(v)).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });

export function ServingCharts({ deploymentId, variants, live }: { deploymentId: string; variants: TVariant[]; live: boolean }) {
  const query = useQuery({
    queryKey: ["deployment-metrics", deploymentId],
    queryFn: () => api<unknown>(`/api/v1/deployments/${deploymentId}/metrics${qs({ since: new Date(Date.now() - 30 * 60_000).toISOString() })}`),
    refetchInterval: live ? 5000 : 30_000,
    select: servingSeries,
  });
  if (query.isLoading) return <Loading rows={4} />;
  if (query.error && !query.data) return <ErrorState error={query.error} retry={() => void query.refetch()} />;
  const series = query.data ?? [];
  const roleOf = (id: string, fallback?: string) => variants.find((v) => v.id === id)?.role ?? fallback ?? id.slice(0, 6);
  if (!series.some((s) => s.points.length)) {
    return (
      <div className="card">
        <h2>Serving metrics</h2>
        <Empty title="No traffic recorded in the last 30 minutes">Charts fill in as the gateway reports request windows.</Empty>
      </div>
    );
  }

  const merged = (field: keyof Omit<TServingPoint, "t">) => {
    const byTime = new Map<number, Record<string, number | null>>();
    for (const s of series) {
      for (const p of s.points) {
        const t = Date.parse(p.t);
        const row = byTime.get(t) ?? { t };
        row[roleOf(s.variantId, s.role)] = p[field];
        byTime.set(t, row);
      }
    }
    return [...byTime.values()].sort((a, b) => (a.t as number) - (b.t as number));
  };
  const variantLines = series.map((s) => {
    const role = roleOf(s.variantId, s.role);
    return { key: role, label: role, color: ROLE_COLOR[role] };
  });
  return (
    <div className="stack">
      <div className="grid grid-2">
        {series.map((s) => {
          const role = roleOf(s.variantId, s.role);
          const rows = s.points.map((p) => ({ t: Date.parse(p.t), p50: p.p50, p95: p.p95, p99: p.p99 }));
          return (
            <MetricChart
              key={s.variantId}
              title={`Latency — ${role}`}
              x="t"
              xFormatter={timeLabel}
              rows={rows}
              yFormatter={formatMs}
              lines={[
                { key: "p50", label: "p50", color: "#16a34a" },
                { key: "p95", label: "p95", color: "#d97706" },
                { key: "p99", label: "p99", color: "#dc2626" },
              ]}
            />
          );
        })}
      </div>
      <div className="grid grid-3">
        <MetricChart title="Time to first token (p95)" x="t" xFormatter={timeLabel} rows={merged("ttftP95")} lines={variantLines} yFormatter={formatMs} />
        <MetricChart title="Error rate" x="t" xFormatter={timeLabel} rows={merged("errorRate")} lines={variantLines} yDomain={errorRateDomain()} yFormatter={(v) => `${(v * 100).toFixed(v < 0.1 ? 1 : 0)}%`} />
        <MetricChart title="Requests / s" x="t" xFormatter={timeLabel} rows={merged("rps")} lines={variantLines} yFormatter={(v) => formatNumber(v, 3)} />
      </div>
    </div>
  );
}

const DECISION_TONE: Record<string, string> = { promote: "green", continue: "blue", hold: "amber", wait: "amber", rollback: "red", pause: "amber" };

function AnalysisSummary({ analysis }: { analysis: unknown }) {
  if (!analysis || typeof analysis !== "object") return null;
  const record = analysis as TLoose;
  const checks = (Array.isArray(record.checks) ? record.checks : []) as TLoose[];
  if (checks.length) {
    return (
      <ul className="small" style={{ margin: "4px 0 0", paddingLeft: 18 }}>
        {checks.map((c, i) => (
          <li key={i} style={{ color: c.passed === false || c.ok === false ? "var(--red)" : undefined }}>
            {String(c.name ?? c.metric ?? "check")}: {String(c.message ?? c.reason ?? `${formatNumber(num(c.value))} vs ${formatNumber(num(c.limit ?? c.threshold))}`)}
          </li>
        ))}
      </ul>
    );
  }
  const entries = Object.entries(record).filter(([, v]) => typeof v === "number" || typeof v === "string" || typeof v === "boolean");
  return entries.length ? (
    <div className="small muted" style={{ marginTop: 2 }}>
      {entries.map(([k, v]) => `${k}: ${typeof v === "number" ? formatNumber(v) : String(v)}`).join(" · ")}
    </div>
  ) : null;
}

/** Steps are stored as indexes from 0 and shown from 1, like the controller's reasons ("at step 2/4"). */
export function RolloutTimeline({ events }: { events: TRolloutEvent[] }) {
  if (!events.length) return <Empty title="No rollout events yet" />;
  const sorted = [...events].sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt));
  return (
    <ol style={{ listStyle: "none", margin: 0, padding: 0 }} aria-label="Rollout timeline">
      {sorted.map((e) => (
        <li key={e.id} style={{ borderLeft: "2px solid var(--border)", padding: "4px 0 10px 12px", position: "relative" }}>
          <span style={{ position: "absolute", left: -5, top: 9, width: 8, height: 8, borderRadius: 4, background: e.type === "rollback" ? "var(--red)" : e.type === "promote" ? "var(--green)" : "var(--accent)" }} />
          <div className="row">
            <strong>{e.type.replace(/_/g, " ")}</strong>
            {e.step !== null && e.step !== undefined ? <Badge>step {e.step + 1}</Badge> : null}
            {e.decision ? <Badge tone={DECISION_TONE[e.decision] ?? ""}>{e.decision}</Badge> : null}
            {e.weights ? <span className="small muted">{Object.entries(e.weights).map(([k, w]) => `${k.length > 10 ? k.slice(0, 6) : k} ${formatPercentBps(w)}`).join(" · ")}</span> : null}
            <span className="spacer" />
            <span className="small muted nowrap">{formatTime(e.createdAt)}</span>
          </div>
          <div>{e.reason}</div>
          <AnalysisSummary analysis={e.analysis} />
        </li>
      ))}
    </ol>
  );
}
