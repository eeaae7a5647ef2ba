"use client";
// Compare 2–10 runs: loss curves overlaid (downsampled on the server), eval metrics side by side, and the specs diffed:
// the fields that differ between the runs, and a line diff of any run's spec against the first one's.
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useSearchParams } from "next/navigation";
import { Suspense, useMemo, useState } from "react";
import { api, qs } from "@/lib/client/api";
import { diffLines } from "@/lib/client/diff";
import { formatNumber } from "@/lib/client/format";
import { MetricChart } from "@/components/metric-chart";
import { Empty, Loading, PageHead, QueryView, StatusBadge } from "@/components/ui";

interface TCompare {
  projectId: string;
  runs: { id: string; number: number; status: string; pipelineId: string; pipelineName: string; specVersion: number; params: Record<string, unknown> | null; resolvedSpec: unknown }[];
  metrics: string[];
  evals: Record<string, Record<string, number>>;
  series: { runId: string; key: string; points: { step: number; value: number }[]; downsampled: boolean; totalPoints: number }[];
}

const LOWER_IS_BETTER = new Set(["refusal_rate"]);
const COLORS = ["#4f46e5", "#0891b2", "#d97706", "#dc2626", "#16a34a", "#9333ea", "#db2777", "#65a30d", "#0f766e", "#475569"];

/** Dotted path → JSON text of every leaf of a spec. */
function flatten(value: unknown, prefix = "", out: Record<string, string> = {}): Record<string, string> {
  if (value && typeof value === "object" && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else out[prefix] = JSON.stringify(value);
  return out;
}

const specText = (spec: unknown) => JSON.stringify(spec, null, 2);

function CompareRuns() {
  const ids = useSearchParams().get("ids") ?? "";
  const count = ids.split(",").filter(Boolean).length;
  const query = useQuery({ queryKey: ["compare-runs", ids], enabled: count >= 2, queryFn: () => api<TCompare>(`/api/v1/runs/compare${qs({ ids, maxPoints: 400 })}`) });
  const [against, setAgainst] = useState(1);
  return (
    <>
      <PageHead title="Compare runs" crumbs={[{ href: "/runs", label: "Runs" }]} sub={count >= 2 ? `${count} runs` : undefined} />
      {count < 2 ? (
        <Empty title="Pick 2 to 10 runs">Tick runs in the runs list, then press Compare.</Empty>
      ) : (
        <QueryView query={query}>{(data) => <CompareView data={data} against={Math.min(against, data.runs.length - 1)} setAgainst={setAgainst} />}</QueryView>
      )}
    </>
  );
}

function CompareView({ data, against, setAgainst }: { data: TCompare; against: number; setAgainst: (i: number) => void }) {
  const label = (id: string) => `#${data.runs.find((r) => r.id === id)?.number ?? "?"}`;
  const keys = [...new Set(data.series.map((s) => s.key))].sort();
  const charts = useMemo(
    () =>
      keys.map((key) => {
        const rows = new Map<number, Record<string, number | null>>();
        for (const s of data.series.filter((x) => x.key === key)) {
          for (const p of s.points) {
            const row = rows.get(p.step) ?? { step: p.step };
            row[s.runId] = p.value;
            rows.set(p.step, row);
          }
        }
        const series = data.series.filter((x) => x.key === key);
        return {
          key,
          rows: [...rows.values()].sort((a, b) => (a.step as number) - (b.step as number)),
          lines: series.map((s) => ({ key: s.runId, label: label(s.runId), color: COLORS[data.runs.findIndex((r) => r.id === s.runId) % COLORS.length] })),
          note: series.some((s) => s.downsampled) ? `downsampled from ${Math.max(...series.map((s) => s.totalPoints))} points` : undefined,
        };
      }),
    [data],
  );
  const flat = data.runs.map((r) => flatten(r.resolvedSpec));
  const paths = [...new Set(flat.flatMap((f) => Object.keys(f)))].sort().filter((p) => new Set(flat.map((f) => f[p] ?? "—")).size > 1);
  const diff = diffLines(specText(data.runs[0]!.resolvedSpec), specText(data.runs[against]!.resolvedSpec));

  return (
    <div className="stack">
      <div className="grid grid-2">
        {charts.length ? (
          charts.map((c) => <MetricChart key={c.key} title={c.key} rows={c.rows} lines={c.lines} x="step" note={c.note} />)
        ) : (
          <Empty title="No loss curves">None of these runs reported a loss series.</Empty>
        )}
      </div>

      <section className="card" aria-label="Eval metrics">
        <div className="card-head">
          <h3 style={{ margin: 0 }}>Eval metrics</h3>
          <span className="muted small">best per metric in bold</span>
        </div>
        {data.metrics.length ? (
          <div className="table-wrap">
            <table className="table">
              <thead>
                <tr>
                  <th>Metric</th>
                  {data.runs.map((r, i) => (
                    <th key={r.id} className="num">
                      <Link href={`/runs/${r.id}`} style={{ color: COLORS[i % COLORS.length] }}>
                        #{r.number}
                      </Link>
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {data.metrics.map((m) => {
                  const values = data.runs.map((r) => data.evals[r.id]?.[m]).filter((v): v is number => typeof v === "number");
                  const best = values.length ? (LOWER_IS_BETTER.has(m) ? Math.min(...values) : Math.max(...values)) : null;
                  return (
                    <tr key={m}>
                      <td className="mono">{m}</td>
                      {data.runs.map((r) => {
                        const v = data.evals[r.id]?.[m];
                        return (
                          <td key={r.id} className="num" style={v !== undefined && v === best && values.length > 1 ? { fontWeight: 600 } : undefined}>
                            {v === undefined ? "—" : formatNumber(v)}
                          </td>
                        );
                      })}
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        ) : (
          <p className="muted">No eval results yet.</p>
        )}
      </section>

      <section className="card" aria-label="Spec differences">
        <div className="card-head">
          <h3 style={{ margin: 0 }}>Spec differences</h3>
          <span className="muted small">{paths.length} differing field{paths.length === 1 ? "" : "s"}</span>
        </div>
        {paths.length ? (
          <div className="table-wrap">
            <table className="table">
              <thead>
                <tr>
                  <th>Field</th>
                  {data.runs.map((r) => (
                    <th key={r.id}>
                      #{r.number} <StatusBadge status={r.status} />
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {paths.map((p) => (
                  <tr key={p}>
                    <td className="mono">{p}</td>
                    {flat.map((f, i) => (
                      <td key={i} className="mono" style={{ overflowWrap: "anywhere" }}>
                        {f[p] ?? "—"}
                      </td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : (
          <p className="muted">The resolved specs are identical.</p>
        )}
        <div className="row small" style={{ marginTop: 12 }}>
          Line diff: #{data.runs[0]!.number} →
          <select className="input" style={{ width: 120 }} value={against} onChange={(e) => setAgainst(Number(e.target.value))} aria-label="Run to diff against the first">
            {data.runs.slice(1).map((r, i) => (
              <option key={r.id} value={i + 1}>
                #{r.number}
              </option>
            ))}
          </select>
        </div>
        <pre className="mono diff" aria-label={`Spec of #${data.runs[0]!.number} against #${data.runs[against]!.number}`} style={{ margin: "8px 0 0", overflow: "auto", maxHeight: 360 }}>
          {diff.map((d, i) => (
            <div key={i} className={`diff-${d.kind}`}>
              {d.kind === "added" ? "+ " : d.kind === "removed" ? "- " : "  "}
              {d.text}
            </div>
          ))}
        </pre>
      </section>
    </div>
  );
}

export default function CompareRunsPage() {
  return (
    <Suspense fallback={<Loading rows={4} />}>
      <CompareRuns />
    </Suspense>
  );
}
