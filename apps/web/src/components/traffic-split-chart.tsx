"use client";
import { Area, AreaChart, CartesianGrid, Legend, ReferenceLine, ResponsiveContainer, Tooltip, XAxis, YAxis, type TooltipContentProps } from "recharts";
import { formatTime } from "@/lib/client/format";
import { useNow } from "@/hooks/use-now";
import { trafficSplitHistory, type TSplitPoint } from "@/lib/client/traffic-split";
import type { TRolloutEvent, TVariant } from "@/lib/client/types";
import { ROLE_COLOR } from "./deployment-panels";

const EXTRA_COLORS = ["#0891b2", "#9333ea", "#dc2626", "#16a34a"];
const keyOf = (role: string) => `share_${role}`;
const percent = (v: number) => `${Number.isInteger(v) ? v : v.toFixed(1)}%`;
type TRow = Record<string, number> & { t: number; index: number };
type TSeries = { role: string; label: string; color: string };

function strategyNote(strategy: string, policy: unknown): string {
  const mode = (policy as { ab?: { allocation?: { mode?: string } } } | null)?.ab?.allocation?.mode;
  if (strategy === "ab" && mode === "thompson") return "Thompson sampling moves the split towards the variant more likely to be best at each rollout tick.";
  if (strategy === "canary") return "The canary takes more traffic at each step whose SLOs hold.";
  return "";
}

function SplitTooltip({ active, payload, points, series }: Partial<TooltipContentProps> & { points: TSplitPoint[]; series: TSeries[] }) {
  const row = payload?.[0]?.payload as TRow | undefined;
  const point = row ? points[row.index] : undefined;
  if (!active || !point) return null;
  return (
    <div className="card" style={{ padding: "8px 10px", fontSize: 12, maxWidth: 340, boxShadow: "0 4px 14px rgb(0 0 0 / 12%)" }}>
      <div className="muted">{point.event ? formatTime(new Date(point.t).toISOString()) : "now"}</div>
      {series.map((s) => (
        <div key={s.role} className="row" style={{ gap: 6 }}>
          <span aria-hidden style={{ width: 10, height: 10, borderRadius: 2, background: s.color }} />
          <span>
            {s.label}: {percent(point.shares[s.role] ?? 0)}
          </span>
        </div>
      ))}
      <div style={{ marginTop: 4, whiteSpace: "normal" }}>{point.event ? `${point.event.type.replace(/_/g, " ")}: ${point.event.reason}` : "the split since its last change"}</div>
    </div>
  );
}

/**
 * Each variant's share of requests over time, one step per change of the split recorded in the rollout events; shown
 * once the split has changed at least once (a first step alone draws no history).
 */
export function TrafficSplitChart({ events, variants, strategy, policy, live, height = 220 }: { events: TRolloutEvent[]; variants: TVariant[]; strategy: string; policy: unknown; live: boolean; height?: number }) {
  // Every 30 s, so a live deployment's last split keeps reaching to now between refetches that change nothing.
  const clock = useNow(30_000);
  const now = live ? clock : undefined;
  const { roles, points, changes } = trafficSplitHistory(events, { roles: variants.map((v) => v.role), now });
  if (changes < 2) return null;
  const series: TSeries[] = roles.map((role, i) => {
    const model = variants.find((v) => v.role === role)?.servedModelName;
    return { role, label: model ? `${role} · ${model}` : role, color: ROLE_COLOR[role] ?? EXTRA_COLORS[i % EXTRA_COLORS.length]! };
  });
  const rows: TRow[] = points.map((p, index) => ({ t: p.t, index, ...Object.fromEntries(roles.map((r) => [keyOf(r), p.shares[r] ?? 0])) }) as TRow);
  const span = points.at(-1)!.t - points[0]!.t;
  const tick = (v: number) =>
    new Date(v).toLocaleString(undefined, span > 86_400_000 ? { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" } : { hour: "2-digit", minute: "2-digit" });
  const extended = points.at(-1)!.event === null;
  return (
    <figure className="card" style={{ margin: 0 }} aria-label="Traffic split over time" data-testid="traffic-split-chart">
      <figcaption className="card-head" style={{ display: "block" }}>
        <h2>Traffic split over time</h2>
        <div className="muted small" style={{ marginTop: 4 }}>
          Each variant&apos;s share of requests over time; every step is a rollout event that changed the split. {strategyNote(strategy, policy)} Hover the chart for the event and its reason.
        </div>
      </figcaption>
      <div style={{ width: "100%", height }}>
        <ResponsiveContainer width="100%" height="100%">
          <AreaChart data={rows} margin={{ top: 18, right: 16, bottom: 0, left: 0 }}>
            <CartesianGrid stroke="#eee" vertical={false} />
            <XAxis dataKey="t" type="number" scale="time" domain={["dataMin", "dataMax"]} tick={{ fontSize: 11 }} tickFormatter={tick} minTickGap={32} padding={{ left: 6, right: 6 }} />
            <YAxis domain={[0, 100]} ticks={[0, 25, 50, 75, 100]} tick={{ fontSize: 11 }} tickFormatter={percent} width={44} />
            <Tooltip isAnimationActive={false} content={(props) => <SplitTooltip {...props} points={points} series={series} />} />
            <Legend wrapperStyle={{ fontSize: 12 }} iconType="square" itemSorter={null} />
            {series.map(({ role, label, color }) => (
              <Area
                key={role}
                dataKey={keyOf(role)}
                name={label}
                type="stepAfter"
                stackId="split"
                stroke={color}
                strokeWidth={1.6}
                fill={color}
                fillOpacity={0.28}
                isAnimationActive={false}
                activeDot={{ r: 4 }}
                dot={(props) => {
                  const row = props.payload as TRow;
                  if (points[row.index]?.event === null || props.cx === undefined || props.cy === undefined) return null;
                  return <circle cx={props.cx} cy={props.cy} r={3} fill={color} stroke="#fff" strokeWidth={1} data-split-role={role} data-split-share={row[keyOf(role)]} />;
                }}
              />
            ))}
            {extended ? <ReferenceLine x={points.at(-1)!.t} stroke="#71717a" strokeDasharray="3 3" label={{ value: "now", position: "top", fontSize: 11, fill: "#52525b" }} /> : null}
          </AreaChart>
        </ResponsiveContainer>
      </div>
    </figure>
  );
}
