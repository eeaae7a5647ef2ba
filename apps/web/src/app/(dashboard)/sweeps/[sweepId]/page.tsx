"use client";
// A sweep: every point with its params, run and the chosen metric; a scatter of one hyperparameter against the metric
// with the best run marked; and "Register the best" when the best run can be registered (the server says so).
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useParams } from "next/navigation";
import { useMemo, useState } from "react";
import { CartesianGrid, ResponsiveContainer, Scatter, ScatterChart, Tooltip, XAxis, YAxis, ZAxis } from "recharts";
import { api, errorMessage } from "@/lib/client/api";
import { formatNumber } from "@/lib/client/format";
import { useProject } from "@/hooks/use-project";
import { ConfirmDialog } from "@/components/confirm-dialog";
import { DataTable } from "@/components/data-table";
import { Badge, PageHead, QueryView, StatusBadge } from "@/components/ui";

interface TSweepPoint {
  index: number;
  params: Record<string, number | string | boolean>;
  run: { id: string; number: number; status: string } | null;
  metrics: Record<string, number>;
  value: number | null;
}
interface TSweepView {
  sweep: { id: string; pipelineId: string; pipelineName: string; objectiveMetric: string; direction: string; concurrency: number; status: string; createdAt: string };
  parameters: string[];
  points: TSweepPoint[];
  best: { runId: string; runNumber: number; value: number; index: number } | null;
  registered: { id: string; modelName: string; version: number } | null;
  canRegisterBest: boolean;
  counts: { total: number; active: number; finished: number; pending: number };
}

const ACTIVE = new Set(["running", "cancelling"]);

function ParamScatter({ view, param }: { view: TSweepView; param: string }) {
  const numeric = view.points.every((p) => typeof p.params[param] === "number");
  const categories = [...new Set(view.points.map((p) => String(p.params[param])))];
  const toX = (p: TSweepPoint) => (numeric ? (p.params[param] as number) : categories.indexOf(String(p.params[param])));
  const measured = view.points.filter((p) => p.value !== null);
  const others = measured.filter((p) => p.index !== view.best?.index).map((p) => ({ x: toX(p), y: p.value, run: p.run?.number, index: p.index }));
  const best = measured.filter((p) => p.index === view.best?.index).map((p) => ({ x: toX(p), y: p.value, run: p.run?.number, index: p.index }));
  const positive = numeric && view.points.every((p) => (p.params[param] as number) > 0);
  const spread = numeric ? Math.max(...view.points.map((p) => p.params[param] as number)) / Math.min(...view.points.map((p) => p.params[param] as number)) : 1;
  const log = positive && spread >= 20;
  return (
    <figure className="card" style={{ margin: 0 }} aria-label={`${param} against ${view.sweep.objectiveMetric}`}>
      <figcaption className="card-head">
        <h3 style={{ margin: 0 }}>
          <span className="mono">{param}</span> vs <span className="mono">{view.sweep.objectiveMetric}</span>
        </h3>
        <span className="muted small">
          <span style={{ color: "#16a34a" }}>★</span> best run{log ? " · log scale" : ""}
        </span>
      </figcaption>
      {measured.length === 0 ? (
        <div className="state" style={{ height: 220, display: "grid", placeItems: "center" }}>
          No point has reported {view.sweep.objectiveMetric} yet
        </div>
      ) : (
        <div style={{ width: "100%", height: 240 }}>
          <ResponsiveContainer width="100%" height="100%">
            <ScatterChart margin={{ top: 8, right: 16, bottom: 8, left: 0 }}>
              <CartesianGrid stroke="#eee" />
              <XAxis
                type="number"
                dataKey="x"
                name={param}
                scale={log ? "log" : "auto"}
                domain={numeric ? ["auto", "auto"] : [-0.5, categories.length - 0.5]}
                ticks={numeric ? undefined : categories.map((_, i) => i)}
                tickFormatter={(v: number) => (numeric ? formatNumber(v, 3) : (categories[v] ?? ""))}
                tick={{ fontSize: 11 }}
              />
              <YAxis type="number" dataKey="y" name={view.sweep.objectiveMetric} domain={["auto", "auto"]} tickFormatter={(v: number) => formatNumber(v, 3)} tick={{ fontSize: 11 }} width={52} />
              <ZAxis range={[70, 70]} />
              <Tooltip
                cursor={{ strokeDasharray: "3 3" }}
                formatter={(value, name) => [typeof value === "number" ? (name === param && !numeric ? (categories[value] ?? value) : formatNumber(value, 4)) : String(value), name]}
                contentStyle={{ fontSize: 12 }}
              />
              <Scatter name="points" data={others} fill="#4f46e5" isAnimationActive={false} />
              <Scatter name="best" data={best} fill="#16a34a" shape="star" isAnimationActive={false} />
            </ScatterChart>
          </ResponsiveContainer>
        </div>
      )}
    </figure>
  );
}

export default function SweepPage() {
  const { sweepId } = useParams<{ sweepId: string }>();
  const { can } = useProject();
  const queryClient = useQueryClient();
  const [confirming, setConfirming] = useState(false);
  const [cancelling, setCancelling] = useState(false);
  const [param, setParam] = useState<string | null>(null);
  const query = useQuery({
    queryKey: ["sweep", sweepId],
    queryFn: () => api<TSweepView>(`/api/v1/sweeps/${sweepId}`),
    refetchInterval: (q) => (q.state.data && ACTIVE.has(q.state.data.sweep.status) ? 3000 : false),
  });
  const register = useMutation({
    mutationFn: () => api<{ modelVersion: { id: string; modelName: string; version: number } }>(`/api/v1/sweeps/${sweepId}/register-best`, { method: "POST", body: {} }),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["sweep", sweepId] }),
  });
  const cancel = useMutation({
    mutationFn: () => api(`/api/v1/sweeps/${sweepId}/cancel`, { method: "POST", body: {} }),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["sweep", sweepId] }),
  });
  const compareHref = useMemo(() => {
    const ids = (query.data?.points ?? []).filter((p) => p.run).map((p) => p.run!.id).slice(0, 10);
    return ids.length >= 2 ? `/runs/compare?ids=${ids.join(",")}` : null;
  }, [query.data]);

  return (
    <QueryView query={query}>
      {(view) => {
        const shown = param && view.parameters.includes(param) ? param : view.parameters[0];
        return (
          <>
            <PageHead
              title={`Sweep ${view.sweep.id.slice(-8)}`}
              crumbs={[
                { href: "/pipelines", label: "Pipelines" },
                { href: `/pipelines/${view.sweep.pipelineId}`, label: view.sweep.pipelineName },
              ]}
              sub={
                <span className="row" style={{ gap: 6 }}>
                  <StatusBadge status={view.sweep.status} />
                  <span>
                    {view.sweep.direction === "min" ? "minimise" : "maximise"} <span className="mono">{view.sweep.objectiveMetric}</span> · {view.counts.finished}/{view.counts.total} finished ·{" "}
                    {view.counts.active} active (at most {view.sweep.concurrency})
                  </span>
                </span>
              }
              actions={
                <>
                  {compareHref ? (
                    <Link className="btn" href={compareHref}>
                      Compare runs
                    </Link>
                  ) : null}
                  {can("engineer") && view.sweep.status === "running" ? (
                    <button type="button" className="btn" onClick={() => setCancelling(true)}>
                      Cancel sweep
                    </button>
                  ) : null}
                  {can("engineer") && view.canRegisterBest && view.best ? (
                    <button type="button" className="btn btn-primary" onClick={() => setConfirming(true)}>
                      Register the best (run #{view.best.runNumber})
                    </button>
                  ) : null}
                </>
              }
            />
            <div className="stack">
              <div className="card">
                {view.best ? (
                  <p style={{ margin: 0 }}>
                    Best: <Link href={`/runs/${view.best.runId}`}>run #{view.best.runNumber}</Link> with <span className="mono">{view.sweep.objectiveMetric}</span> ={" "}
                    <strong>{formatNumber(view.best.value)}</strong>
                    {view.registered ? (
                      <>
                        {" "}
                        · registered as{" "}
                        <Link href={`/models/${view.registered.id}`}>
                          {view.registered.modelName} v{view.registered.version}
                        </Link>
                      </>
                    ) : view.canRegisterBest ? null : (
                      <span className="muted"> · not registrable yet</span>
                    )}
                  </p>
                ) : (
                  <p className="muted" style={{ margin: 0 }}>
                    No best run yet: a best is picked among points whose run succeeded (passed its gate).
                  </p>
                )}
                {register.error ? (
                  <div role="alert" className="alert red small" style={{ marginTop: 8 }}>
                    {errorMessage(register.error)}
                  </div>
                ) : null}
              </div>
              {view.parameters.length > 1 ? (
                <label className="row small">
                  Chart parameter
                  <select className="input" style={{ width: 240 }} value={shown} onChange={(e) => setParam(e.target.value)}>
                    {view.parameters.map((p) => (
                      <option key={p} value={p}>
                        {p}
                      </option>
                    ))}
                  </select>
                </label>
              ) : null}
              {shown ? <ParamScatter view={view} param={shown} /> : null}
              <DataTable columns={["#", ...view.parameters.map((p) => ({ label: <span className="mono">{p}</span> })), "Run", "Status", { label: view.sweep.objectiveMetric, className: "num" }]}>
                {view.points.map((p) => (
                  <tr key={p.index} aria-current={p.index === view.best?.index ? "true" : undefined} style={p.index === view.best?.index ? { background: "var(--green-bg)" } : undefined}>
                    <td className="num">{p.index}</td>
                    {view.parameters.map((k) => (
                      <td key={k} className="mono">
                        {p.params[k] === undefined ? "—" : String(p.params[k])}
                      </td>
                    ))}
                    <td>{p.run ? <Link href={`/runs/${p.run.id}`}>#{p.run.number}</Link> : <span className="muted">not started</span>}</td>
                    <td>{p.run ? <StatusBadge status={p.run.status} /> : <Badge>pending</Badge>}</td>
                    <td className="num">
                      {p.value === null ? "—" : formatNumber(p.value)}
                      {p.index === view.best?.index ? <span title="best" style={{ color: "#16a34a" }}> ★</span> : null}
                    </td>
                  </tr>
                ))}
              </DataTable>
            </div>
            {confirming && view.best ? (
              <ConfirmDialog title={`Register run #${view.best.runNumber}?`} confirmLabel="Register" onConfirm={() => register.mutateAsync()} onClose={() => setConfirming(false)}>
                Its evaluated adapter becomes the next version of its model, with the sweep point&apos;s params in its lineage.
              </ConfirmDialog>
            ) : null}
            {cancelling ? (
              <ConfirmDialog title="Cancel this sweep?" confirmLabel="Cancel sweep" danger onConfirm={() => cancel.mutateAsync()} onClose={() => setCancelling(false)}>
                No further point is started and its active runs are cancelled. Finished runs stay.
              </ConfirmDialog>
            ) : null}
          </>
        );
      }}
    </QueryView>
  );
}
