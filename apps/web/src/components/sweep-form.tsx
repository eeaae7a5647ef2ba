"use client";
// Create a sweep from the pipeline page: parameters from the sweepable paths (grid values or a random range), the
// metric to optimise and its direction, and how many runs may be active at once. The server validates the rest
// (sweepable paths, every point gives a valid spec) and its field errors are shown next to the form.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { KNOWN_METRICS, METRIC_SOURCE, resolveSpec, SWEEPABLE_PATHS } from "@loraplane/core";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { api, ApiError, errorMessage } from "@/lib/client/api";

type TParamRow = { path: string; mode: "grid" | "random"; values: string; min: string; max: string; scale: "linear" | "log"; integer: boolean };

const newRow = (path = "training.learningRate"): TParamRow => ({ path, mode: "grid", values: "1e-4, 3e-4", min: "", max: "", scale: "log", integer: false });

function parseValue(raw: string): number | string | boolean {
  const s = raw.trim();
  if (s === "true" || s === "false") return s === "true";
  const n = Number(s);
  return s !== "" && Number.isFinite(n) ? n : s;
}

/** The metrics the pipeline's eval computes: the only ones a sweep may optimise (the server refuses the others). */
function sweepableMetrics(spec: unknown): string[] {
  const resolved = resolveSpec(spec);
  if (!resolved.ok) return [];
  return KNOWN_METRICS.filter((m) => {
    const source = METRIC_SOURCE[m];
    return source !== null && resolved.spec.eval.metrics.includes(source);
  });
}

export function SweepForm({ pipelineId, spec }: { pipelineId: string; spec: unknown }) {
  const router = useRouter();
  const queryClient = useQueryClient();
  const offered = sweepableMetrics(spec);
  const [rows, setRows] = useState<TParamRow[]>([newRow()]);
  const [metric, setMetric] = useState<string>(offered[0] ?? "rouge_l");
  const [direction, setDirection] = useState<"max" | "min">("max");
  const [concurrency, setConcurrency] = useState("2");
  const [samples, setSamples] = useState("4");
  const [seed, setSeed] = useState("0");
  const hasRandom = rows.some((r) => r.mode === "random");

  const create = useMutation({
    mutationFn: () => {
      const grid: Record<string, (number | string | boolean)[]> = {};
      const random: Record<string, { min: number; max: number; scale: string; integer: boolean }> = {};
      for (const r of rows) {
        if (r.mode === "grid") grid[r.path] = r.values.split(",").filter((v) => v.trim() !== "").map(parseValue);
        else random[r.path] = { min: Number(r.min), max: Number(r.max), scale: r.scale, integer: r.integer };
      }
      return api<{ sweep: { id: string } }>(`/api/v1/pipelines/${pipelineId}/sweeps`, {
        method: "POST",
        body: {
          grid,
          ...(hasRandom ? { random, samples: Number(samples), seed: Number(seed) } : {}),
          metric,
          direction,
          concurrency: Number(concurrency),
        },
      });
    },
    onSuccess: async (res) => {
      await queryClient.invalidateQueries({ queryKey: ["sweeps", pipelineId] });
      router.push(`/sweeps/${res.sweep.id}`);
    },
  });
  const issues = create.error instanceof ApiError ? (create.error.issues ?? []) : [];
  const update = (i: number, patch: Partial<TParamRow>) => setRows((rs) => rs.map((r, j) => (j === i ? { ...r, ...patch } : r)));

  return (
    <form
      className="card stack"
      aria-label="New sweep"
      onSubmit={(e) => {
        e.preventDefault();
        create.mutate();
      }}
    >
      <h3 style={{ margin: 0 }}>New sweep</h3>
      {offered.length === 0 ? <p className="muted small">This pipeline&apos;s eval computes no metric a sweep can optimise.</p> : null}
      {rows.map((r, i) => (
        <fieldset key={i} className="row" style={{ gap: 8, border: 0, padding: 0, margin: 0, alignItems: "end" }}>
          <label className="field">
            <span className="small">Parameter</span>
            <select className="input" value={r.path} onChange={(e) => update(i, { path: e.target.value })} aria-label={`Parameter ${i + 1}`}>
              {SWEEPABLE_PATHS.map((p) => (
                <option key={p} value={p}>
                  {p}
                </option>
              ))}
            </select>
          </label>
          <label className="field">
            <span className="small">Mode</span>
            <select className="input" value={r.mode} onChange={(e) => update(i, { mode: e.target.value as TParamRow["mode"] })}>
              <option value="grid">grid (values)</option>
              <option value="random">seeded random (range)</option>
            </select>
          </label>
          {r.mode === "grid" ? (
            <label className="field" style={{ flex: 1, minWidth: 160 }}>
              <span className="small">Values, comma-separated</span>
              <input className="input mono" value={r.values} onChange={(e) => update(i, { values: e.target.value })} aria-label={`Values of ${r.path}`} />
            </label>
          ) : (
            <>
              <label className="field" style={{ width: 100 }}>
                <span className="small">Min</span>
                <input className="input mono" value={r.min} onChange={(e) => update(i, { min: e.target.value })} />
              </label>
              <label className="field" style={{ width: 100 }}>
                <span className="small">Max</span>
                <input className="input mono" value={r.max} onChange={(e) => update(i, { max: e.target.value })} />
              </label>
              <label className="field">
                <span className="small">Scale</span>
                <select className="input" value={r.scale} onChange={(e) => update(i, { scale: e.target.value as TParamRow["scale"] })}>
                  <option value="log">log</option>
                  <option value="linear">linear</option>
                </select>
              </label>
              <label className="row small">
                <input type="checkbox" checked={r.integer} onChange={(e) => update(i, { integer: e.target.checked })} /> integer
              </label>
            </>
          )}
          {rows.length > 1 ? (
            <button type="button" className="btn" onClick={() => setRows((rs) => rs.filter((_, j) => j !== i))} aria-label={`Remove ${r.path}`}>
              Remove
            </button>
          ) : null}
        </fieldset>
      ))}
      <div>
        <button type="button" className="btn" onClick={() => setRows((rs) => [...rs, newRow(SWEEPABLE_PATHS.find((p) => !rs.some((r) => r.path === p)) ?? SWEEPABLE_PATHS[0])])}>
          Add parameter
        </button>
      </div>
      <div className="row" style={{ gap: 8, alignItems: "end" }}>
        <label className="field">
          <span className="small">Optimise</span>
          <select className="input" value={metric} onChange={(e) => setMetric(e.target.value)} aria-label="Metric">
            {offered.map((m) => (
              <option key={m} value={m}>
                {m}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          <span className="small">Direction</span>
          <select className="input" value={direction} onChange={(e) => setDirection(e.target.value as "max" | "min")}>
            <option value="max">maximise</option>
            <option value="min">minimise</option>
          </select>
        </label>
        <label className="field" style={{ width: 120 }}>
          <span className="small">Runs at once</span>
          <input className="input" type="number" min={1} max={16} value={concurrency} onChange={(e) => setConcurrency(e.target.value)} aria-label="Concurrency" />
        </label>
        {hasRandom ? (
          <>
            <label className="field" style={{ width: 110 }}>
              <span className="small">Samples</span>
              <input className="input" type="number" min={1} max={256} value={samples} onChange={(e) => setSamples(e.target.value)} />
            </label>
            <label className="field" style={{ width: 110 }}>
              <span className="small">Seed</span>
              <input className="input" type="number" value={seed} onChange={(e) => setSeed(e.target.value)} />
            </label>
          </>
        ) : null}
        <button type="submit" className="btn btn-primary" disabled={create.isPending || offered.length === 0}>
          {create.isPending ? "Creating…" : "Start sweep"}
        </button>
      </div>
      {create.error ? (
        <div role="alert" className="alert red small">
          {issues.length ? (
            <ul style={{ margin: 0, paddingLeft: 18 }}>
              {issues.map((i, k) => (
                <li key={k}>
                  <span className="mono">{i.path || "body"}</span>: {i.message}
                </li>
              ))}
            </ul>
          ) : (
            errorMessage(create.error)
          )}
        </div>
      ) : null}
    </form>
  );
}
