"use client";
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useParams } from "next/navigation";
import { api } from "@/lib/client/api";
import { durationBetween, formatDuration, formatTime, shortSha } from "@/lib/client/format";
import { getAtPath } from "@/lib/client/spec-text";
import type { TEval, TRun } from "@/lib/client/types";
import { LineageGraph, lineageNodes } from "@/components/lineage-graph";
import { EvalTable, GateBanner, latestStages, trainingLength } from "@/components/run-panels";
import { ErrorState, Loading, StatusBadge } from "@/components/ui";

/** A one-page eval report meant for printing or saving as PDF: the record a reviewer signs off on. */
export default function RunReportPage() {
  const { runId } = useParams<{ runId: string }>();
  const run = useQuery({ queryKey: ["run", runId], queryFn: () => api<TRun>(`/api/v1/runs/${runId}`) });
  const evaluation = useQuery({ queryKey: ["run-eval", runId], queryFn: () => api<TEval>(`/api/v1/runs/${runId}/eval`) });
  const lineage = useQuery({ queryKey: ["run-lineage", runId], queryFn: () => api<unknown>(`/api/v1/runs/${runId}/lineage`) });

  if (run.isLoading || evaluation.isLoading) return <Loading rows={8} />;
  if (run.error || evaluation.error) return <ErrorState error={run.error ?? evaluation.error} />;
  if (!run.data || !evaluation.data) return <Loading />;
  const r = run.data;
  const spec = r.resolvedSpec;
  const field = (path: string) => {
    const v = getAtPath(spec, path);
    return v === undefined || v === null ? "—" : Array.isArray(v) ? v.join(", ") : String(v);
  };
  return (
    <article className="report card">
      <div className="row no-print" style={{ justifyContent: "space-between", marginBottom: 12 }}>
        <Link href={`/runs/${r.id}`}>← Back to run</Link>
        <button type="button" className="btn btn-primary" onClick={() => window.print()}>
          Print / save as PDF
        </button>
      </div>
      <h1>
        Evaluation report — {r.pipelineName ?? "pipeline"} run #{r.number}
      </h1>
      <p className="muted">Generated {formatTime(new Date().toISOString())} · run {r.id}</p>
      <section className="stack" style={{ marginTop: 12 }}>
        <dl className="kv">
          <dt>Status</dt>
          <dd>
            <StatusBadge status={r.status} />
          </dd>
          <dt>Model</dt>
          <dd>
            {field("model.name")} on <code>{field("model.baseModel")}</code>
          </dd>
          <dt>Dataset</dt>
          <dd>
            {field("dataset.name")}@{field("dataset.version")}
          </dd>
          <dt>Commit</dt>
          <dd className="mono">
            {shortSha(r.gitCommit)} {r.gitRef ?? ""}
          </dd>
          <dt>LoRA</dt>
          <dd>
            r={field("training.lora.r")}, alpha={field("training.lora.alpha")}, dropout={field("training.lora.dropout")}, lr={field("training.learningRate")}, {trainingLength(spec)}
          </dd>
          {r.params && Object.keys(r.params).length ? (
            <>
              <dt>Parameters</dt>
              <dd className="mono">
                {Object.entries(r.params)
                  .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
                  .join(", ")}
              </dd>
            </>
          ) : null}
          <dt>Duration</dt>
          <dd>{formatDuration(durationBetween(r.startedAt, r.finishedAt))}</dd>
          <dt>Stages</dt>
          <dd>{latestStages(r.stages).map((s) => `${s.stage}: ${s.status}`).join(" · ") || "—"}</dd>
        </dl>
        <h2>Gate decision</h2>
        <GateBanner gate={evaluation.data.gate} />
        <h2>Metrics against thresholds</h2>
        {evaluation.data.results.length ? <EvalTable results={evaluation.data.results} /> : <p className="muted">No evaluation results recorded.</p>}
        <h2>Lineage</h2>
        {lineage.data ? <LineageGraph nodes={lineageNodes(lineage.data)} /> : lineage.error ? <ErrorState error={lineage.error} /> : <Loading />}
      </section>
    </article>
  );
}
