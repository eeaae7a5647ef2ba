"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useParams, useRouter } from "next/navigation";
import { useState } from "react";
import { allowedRunActions, gateThresholds, RUN_ACTION_ROLES, ZPipelineSpec, type TRunStatus, type TStageName } from "@loraplane/core";
import { api, errorMessage, qs } from "@/lib/client/api";
import { durationBetween, formatDuration, formatTime, shortSha } from "@/lib/client/format";
import type { TAuditEntry, TPage, TRun } from "@/lib/client/types";
import { useDirectory } from "@/hooks/use-directory";
import { useNow } from "@/hooks/use-now";
import { useProject } from "@/hooks/use-project";
import { ConfirmDialog } from "@/components/confirm-dialog";
import { LineageGraph, lineageNodes } from "@/components/lineage-graph";
import { ArtifactsTable, EvalPanel, LogsTail, RunCharts, RunParams, SamplesTable, StageTimeline, TrainingProgress, latestStages, plannedStages, runIsLive, type TReviewProgress } from "@/components/run-panels";
import { PageHead, QueryView, StatusBadge, Tabs } from "@/components/ui";

type TTab = "overview" | "eval" | "artifacts" | "lineage";

/** A cancelled run is a decision, not a failure: said neutrally, with who cancelled it (from the audit log). */
function CancelledNote({ run }: { run: TRun }) {
  const { me } = useProject();
  const directory = useDirectory(run.projectId);
  const entry = useQuery({
    queryKey: ["run-cancelled-by", run.id],
    queryFn: () => api<TPage<TAuditEntry>>(`/api/v1/audit${qs({ projectId: run.projectId, subjectId: run.id, action: "run.cancel", limit: 1 })}`),
    select: (d) => d.items[0],
  });
  const actorId = entry.data?.actorId;
  const who = entry.data ? (actorId && actorId === me?.user.id ? "you" : (directory.userName(actorId) ?? (entry.data.actorType === "system" ? "the system" : "a former member"))) : null;
  const reason = run.error && !/^cancelled by (user|the system)$/.test(run.error) ? run.error : null;
  return (
    <div className="alert" role="status" data-testid="run-cancelled" style={{ marginBottom: 12, background: "var(--gray-bg)" }}>
      Cancelled{who ? ` by ${who}` : ""} {run.finishedAt ? `at ${formatTime(run.finishedAt)}` : ""}
      {reason ? `: ${reason}` : "."} Finished stages and their artifacts are kept.
    </div>
  );
}

/** A failure's message, clamped to three lines with the rest one click away. */
function RunError({ error }: { error: string }) {
  const [open, setOpen] = useState(false);
  const long = error.length > 240;
  return (
    <div className="alert red" role="alert" style={{ marginBottom: 12 }}>
      <div className={long && !open ? "clamp-3" : undefined} style={{ overflowWrap: "anywhere", whiteSpace: "pre-wrap" }}>
        {error}
      </div>
      {long ? (
        <button type="button" className="btn btn-ghost btn-sm" onClick={() => setOpen((v) => !v)}>
          {open ? "Show less" : "Show all"}
        </button>
      ) : null}
    </div>
  );
}

/** The run waits for people to review its eval samples before the gate evaluates (gate.review in the spec). */
function AwaitingReview({ runId, onOpen }: { runId: string; onOpen: () => void }) {
  const progress = useQuery({ queryKey: ["run-review", runId], queryFn: () => api<TReviewProgress>(`/api/v1/runs/${runId}/review`), refetchInterval: 3000 });
  const p = progress.data;
  return (
    <div className="alert amber" role="status" data-testid="awaiting-review" style={{ marginBottom: 12 }}>
      Waiting for review: {p ? `${p.reviewed} of ${p.needed} needed samples reviewed (${p.total} recorded)` : "…"}. The gate evaluates when the quota is met.{" "}
      <button type="button" className="btn btn-sm" onClick={onOpen}>
        Review samples
      </button>
    </div>
  );
}

/** Threshold inputs of the override dialog: the thresholds this run's gate applies now, each editable. */
function OverrideFields({ run, values, onChange }: { run: TRun; values: Record<string, string>; onChange: (metric: string, value: string) => void }) {
  const review = useQuery({ queryKey: ["run-review", run.id], queryFn: () => api<TReviewProgress>(`/api/v1/runs/${run.id}/review`) });
  const spec = ZPipelineSpec.safeParse(run.resolvedSpec);
  if (!spec.success || !review.data) return <p className="muted small">Loading thresholds…</p>;
  const thresholds = gateThresholds(spec.data, review.data.overrides.map((o) => ({ metric: o.metric as never, comparator: o.comparator as never, value: o.value })));
  return (
    <div className="stack" style={{ gap: 8 }}>
      <p className="small" style={{ margin: 0 }}>
        Applies to run #{run.number} only; the pipeline keeps its thresholds. The gate evaluates again right away.
      </p>
      {thresholds.map((t) => (
        <div className="field" key={t.metric}>
          <label htmlFor={`override-${t.metric}`}>
            {t.metric} {t.comparator} <span className="muted">(now {t.value})</span>
          </label>
          <input id={`override-${t.metric}`} className="input" type="number" min={0} max={1} step={0.01} value={values[t.metric] ?? String(t.value)} onChange={(e) => onChange(t.metric, e.target.value)} />
        </div>
      ))}
    </div>
  );
}

function RunLineage({ runId }: { runId: string }) {
  const query = useQuery({ queryKey: ["run-lineage", runId], queryFn: () => api<unknown>(`/api/v1/runs/${runId}/lineage`) });
  return (
    <div className="card">
      <h2>Lineage</h2>
      <QueryView query={query}>{(data) => <LineageGraph nodes={lineageNodes(data)} />}</QueryView>
    </div>
  );
}

export default function RunPage() {
  const { runId } = useParams<{ runId: string }>();
  const router = useRouter();
  const queryClient = useQueryClient();
  const { can } = useProject();
  const now = useNow(1000);
  const [tab, setTab] = useState<TTab>("overview");
  const [confirm, setConfirm] = useState<"cancel" | "retry" | "override" | null>(null);
  const [overrideValues, setOverrideValues] = useState<Record<string, string>>({});
  const query = useQuery({
    queryKey: ["run", runId],
    queryFn: () => api<TRun>(`/api/v1/runs/${runId}`),
    refetchInterval: (q) => (runIsLive(q.state.data) ? 2000 : false),
  });
  const live = runIsLive(query.data);
  const cancel = useMutation({
    mutationFn: (reason: string) => api(`/api/v1/runs/${runId}/cancel`, { method: "POST", body: { reason: reason || undefined } }),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["run", runId] }),
  });
  const retry = useMutation({
    mutationFn: () => api<{ run: { id: string } }>(`/api/v1/runs/${runId}/retry`, { method: "POST", body: {} }),
    onSuccess: async (data) => {
      await queryClient.invalidateQueries({ queryKey: ["run", runId] });
      if (data.run.id !== runId) router.push(`/runs/${data.run.id}`);
    },
  });
  const override = useMutation({
    mutationFn: (reason: string) => {
      const thresholds = Object.entries(overrideValues).map(([metric, value]) => ({ metric, value: Number(value) }));
      return api(`/api/v1/runs/${runId}/gate-override`, { method: "POST", body: { thresholds, reason } });
    },
    onSuccess: async () => {
      setOverrideValues({});
      await queryClient.invalidateQueries({ queryKey: ["run", runId] });
      await queryClient.invalidateQueries({ queryKey: ["run-review", runId] });
    },
  });

  return (
    <QueryView query={query} rows={6}>
      {(run) => {
        const stages = latestStages(run.stages);
        const training = stages.find((s) => s.stage === "train" && s.status === "running");
        // The same function the services consult: a button appears only when the server would accept it.
        const actions = allowedRunActions({ status: run.status as TRunStatus, stage: (run.currentStage ?? null) as TStageName | null, cancelRequested: Boolean(run.cancelRequestedAt) });
        const offer = (a: keyof typeof actions) => actions[a].allowed && can(RUN_ACTION_ROLES[a]);
        return (
          <>
            <PageHead
              crumbs={[{ href: "/pipelines", label: "Pipelines" }, { href: `/pipelines/${run.pipelineId}`, label: run.pipelineName ?? "Pipeline" }]}
              title={
                <span className="row">
                  Run #{run.number} <StatusBadge status={run.status} />
                </span>
              }
              sub={`${run.trigger}${run.gitCommit ? ` · commit ${shortSha(run.gitCommit)}` : ""}${run.gitRef ? ` (${run.gitRef})` : ""} · started ${formatTime(run.startedAt ?? run.createdAt)} · ${formatDuration(durationBetween(run.startedAt, run.finishedAt, now))}`}
              actions={
                <>
                  {offer("cancel") ? (
                    <button type="button" className="btn" onClick={() => setConfirm("cancel")}>
                      Cancel run
                    </button>
                  ) : null}
                  {run.cancelRequestedAt && live ? <span className="muted small">Cancelling…</span> : null}
                  {offer("override") ? (
                    <button type="button" className="btn" onClick={() => setConfirm("override")}>
                      Override gate…
                    </button>
                  ) : null}
                  {offer("retry") ? (
                    <button type="button" className="btn btn-primary" onClick={() => setConfirm("retry")} title={run.status === "blocked" ? "Evaluate the gate again with the reviews as they are now" : undefined}>
                      {run.status === "blocked" ? "Re-run gate" : "Retry"}
                    </button>
                  ) : null}
                </>
              }
            />
            {run.status === "cancelled" ? <CancelledNote run={run} /> : run.error ? <RunError error={run.error} /> : null}
            {run.status === "awaiting_review" ? <AwaitingReview runId={run.id} onOpen={() => setTab("eval")} /> : null}
            {run.status === "waiting_approval" ? (
              <div className="alert amber" style={{ marginBottom: 12 }}>
                Waiting for approval. <Link href="/approvals">Open the approvals inbox</Link>.
              </div>
            ) : null}
            <Tabs
              value={tab}
              onChange={setTab}
              tabs={[
                { id: "overview", label: "Overview" },
                { id: "eval", label: "Evaluation" },
                { id: "artifacts", label: "Artifacts" },
                { id: "lineage", label: "Lineage" },
              ]}
            />
            {tab === "overview" && (
              <div className="stack">
                <StageTimeline stages={run.stages} planned={plannedStages(run.resolvedSpec)} />
                {training ? <TrainingProgress stage={training} /> : null}
                <RunParams params={run.params} resolvedSpec={run.resolvedSpec} />
                <RunCharts runId={run.id} live={live} />
                <LogsTail runId={run.id} stages={stages.map((s) => s.stage)} live={live} />
              </div>
            )}
            {tab === "eval" && (
              <div className="stack">
                <EvalPanel runId={run.id} live={live} />
                <SamplesTable runId={run.id} canReview={can("engineer")} />
              </div>
            )}
            {tab === "artifacts" && <ArtifactsTable runId={run.id} />}
            {tab === "lineage" && <RunLineage runId={run.id} />}
            {confirm === "cancel" && (
              <ConfirmDialog title={`Cancel run #${run.number}?`} confirmLabel="Cancel run" danger withReason={{ label: "Reason (optional)" }} onConfirm={(reason) => cancel.mutateAsync(reason)} onClose={() => setConfirm(null)}>
                Running workloads are stopped; finished stages and their artifacts are kept.
              </ConfirmDialog>
            )}
            {confirm === "retry" && (
              <ConfirmDialog title={`Retry run #${run.number}?`} confirmLabel="Retry" onConfirm={() => retry.mutateAsync()} onClose={() => setConfirm(null)}>
                {run.status === "blocked"
                  ? "The gate evaluates again as a new attempt, with the sample reviews as they are now and any override; training and evaluation are not repeated."
                  : "The stage that stopped runs again as a new attempt; stages that finished keep their results."}
                {retry.error ? <div className="alert red">{errorMessage(retry.error)}</div> : null}
              </ConfirmDialog>
            )}
            {confirm === "override" && (
              <ConfirmDialog
                title={`Override the gate of run #${run.number}?`}
                confirmLabel="Override and re-run gate"
                withReason={{ label: "Reason (required, kept in the audit log)", required: true }}
                onConfirm={(reason) => {
                  if (Object.keys(overrideValues).length === 0) return Promise.reject(new Error("Change at least one threshold."));
                  return override.mutateAsync(reason);
                }}
                onClose={() => setConfirm(null)}
              >
                <OverrideFields run={run} values={overrideValues} onChange={(metric, value) => setOverrideValues((v) => ({ ...v, [metric]: value }))} />
              </ConfirmDialog>
            )}
          </>
        );
      }}
    </QueryView>
  );
}
