"use client";
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { formatNumber } from "@/lib/client/format";

const COLORS = ["#4f46e5", "#0891b2", "#d97706", "#dc2626", "#16a34a", "#9333ea"];

export interface TChartLine {
  key: string;
  label: string;
  color?: string;
  dashed?: boolean;
}

/** A compact line chart over rows keyed by `x`; missing values leave gaps instead of drawing zeros. */
export function MetricChart({
  title,
  rows,
  lines,
  x,
  xFormatter,
  yFormatter = (v: number) => formatNumber(v, 3),
  height = 200,
  note,
  yDomain = ["auto", "auto"],
}: {
  title: string;
  rows: Record<string, number | string | null>[];
  lines: TChartLine[];
  x: string;
  xFormatter?: (v: number | string) => string;
  yFormatter?: (v: number) => string;
  height?: number;
  note?: string;
  /** Recharts Y domain; the default fits the data. */
  yDomain?: [number | string | ((v: number) => number), number | string | ((v: number) => number)];
}) {
  return (
    <figure className="card" style={{ margin: 0 }} aria-label={title}>
      <figcaption className="card-head">
        <h3 style={{ margin: 0 }}>{title}</h3>
        {note ? <span className="muted small">{note}</span> : null}
      </figcaption>
      {rows.length === 0 ? (
        <div className="state" style={{ height, display: "grid", placeItems: "center" }}>
          No data yet
        </div>
      ) : (
        <div style={{ width: "100%", height }}>
          <ResponsiveContainer width="100%" height="100%">
            <LineChart data={rows} margin={{ top: 4, right: 8, bottom: 0, left: 0 }}>
              <CartesianGrid stroke="#eee" vertical={false} />
              <XAxis dataKey={x} tick={{ fontSize: 11 }} tickFormatter={xFormatter} minTickGap={24} type={typeof rows[0]?.[x] === "number" ? "number" : "category"} domain={["dataMin", "dataMax"]} allowDecimals={false} />
              <YAxis tick={{ fontSize: 11 }} width={52} tickFormatter={(v: number) => yFormatter(v)} domain={yDomain as never} />
              <Tooltip
                formatter={(value) => (typeof value === "number" ? yFormatter(value) : String(value))}
                labelFormatter={(label) => (xFormatter ? xFormatter(label as number | string) : String(label))}
                contentStyle={{ fontSize: 12 }}
              />
              {lines.length > 1 && <Legend wrapperStyle={{ fontSize: 11 }} />}
              {lines.map((line, i) => (
                <Line
                  key={line.key}
                  dataKey={line.key}
                  name={line.label}
                  stroke={line.color ?? COLORS[i % COLORS.length]}
                  strokeDasharray={line.dashed ? "4 3" : undefined}
                  dot={false}
                  strokeWidth={1.6}
                  isAnimationActive={false}
                  connectNulls={false}
                />
              ))}
            </LineChart>
          </ResponsiveContainer>
        </div>
      )}
    </figure>
  );
}
