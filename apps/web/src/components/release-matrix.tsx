"use client";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useState } from "react";
import { api } from "@/lib/client/api";
import { formatPercentBps, formatRelative } from "@/lib/client/format";
import { countdown, STAGE_LABEL, stageActions, type TStageAction } from "@/lib/client/releases";
import type { TRelease, TReleaseStage } from "@/lib/client/types";
import { useNow } from "@/hooks/use-now";
import { useProject } from "@/hooks/use-project";
import { ConfirmDialog } from "./confirm-dialog";
import { Badge, StatusBadge } from "./ui";

const STAGE_TONE: Record<TReleaseStage["state"], string> = {
  pending: "pending",
  awaiting_approval: "awaiting_approval",
  rolling_out: "progressing",
  soaking: "running",
  promoted: "promoted",
  rolled_back: "rolled_back",
  blocked: "blocked",
  failed: "failed",
};

const who = (u: { name: string | null; email: string }) => u.name || u.email;

function StageCell({ release, stage, fetchedAt, onAction }: { release: TRelease; stage: TReleaseStage; fetchedAt: number; onAction: (stage: TReleaseStage, action: TStageAction) => void }) {
  const { me, can } = useProject();
  const now = useNow(1000);
  const actions = stageActions(release, stage, { id: me?.user.id, canOperate: can("engineer") });
  const serving = stage.deployment?.variants.filter((v) => v.weightBps > 0) ?? [];
  const mine = stage.deployment?.variants.find((v) => v.modelVersionId === release.modelVersion.id);
  return (
    <td data-stage-env={stage.environment.name} data-stage-state={stage.state} data-label={stage.environment.name} style={{ verticalAlign: "top", minWidth: 170 }}>
      <div className="stack" style={{ gap: 4 }}>
        <div className="row" style={{ gap: 4 }}>
          <StatusBadge status={STAGE_TONE[stage.state]} label={STAGE_LABEL[stage.state]} />
          {stage.environment.frozen ? <Badge tone="blue">frozen</Badge> : null}
        </div>
        {stage.state === "soaking" && stage.soak ? (
          <span className="small" aria-live="polite">
            soak ends in <strong className="mono">{countdown(stage.soak.remainingSeconds - (now - fetchedAt) / 1000)}</strong>
          </span>
        ) : null}
        {stage.state === "rolling_out" && mine ? <span className="small muted">{`${mine.servedModelName} at ${formatPercentBps(mine.weightBps)}`}</span> : null}
        {stage.state === "awaiting_approval" ? (
          <span className="small">
            {stage.approvals.received} of {stage.approvals.required} approval{stage.approvals.required === 1 ? "" : "s"}; may approve:{" "}
            {stage.approvals.eligibleApprovers.length ? stage.approvals.eligibleApprovers.map(who).join(", ") : <em>nobody eligible yet</em>}
          </span>
        ) : null}
        {stage.state === "promoted" && serving.length ? <span className="small muted">serves {serving.map((v) => v.servedModelName).join(", ")}</span> : null}
        {stage.reason && ["blocked", "rolled_back", "failed", "pending"].includes(stage.state) ? (
          <span className={`small ${stage.state === "pending" ? "muted" : ""}`} style={{ color: stage.state === "pending" ? undefined : stage.state === "blocked" ? "var(--amber)" : "var(--red)", overflowWrap: "anywhere" }}>
            {stage.reason}
          </span>
        ) : null}
        {stage.approvals.decisions.map((d, i) => (
          <span key={i} className="small muted">
            {d.decision} by {d.email ?? "a former member"}
            {d.comment ? `: “${d.comment}”` : ""}
          </span>
        ))}
        {actions.length ? (
          <div className="row" style={{ gap: 4 }}>
            {actions.map((a) => (
              <button
                key={a}
                type="button"
                className={`btn btn-sm ${a === "approve" || a === "promote" ? "btn-primary" : a === "rollback" ? "btn-danger" : ""}`}
                onClick={() => onAction(stage, a)}
              >
                {a === "promote" ? `Promote to ${stage.environment.name}` : a === "rollback" ? `Roll back ${stage.environment.name}` : a === "approve" ? "Approve" : "Reject"}
              </button>
            ))}
          </div>
        ) : null}
        {stage.deployment ? (
          <Link className="small" href={`/deployments/${stage.deployment.id}`}>
            deployment
          </Link>
        ) : null}
      </div>
    </td>
  );
}

/** Versions × environments: what each release's stage does in each environment, with the buttons that fit. */
export function ReleaseMatrix({ releases, fetchedAt }: { releases: TRelease[]; fetchedAt: number }) {
  const queryClient = useQueryClient();
  const [pending, setPending] = useState<{ release: TRelease; stage: TReleaseStage; action: TStageAction } | null>(null);
  const envs = [...new Map(releases.flatMap((r) => r.stages.map((s) => [s.environment.name, s] as const))).values()].sort((a, b) => a.position - b.position).map((s) => s.environment.name);
  const act = useMutation({
    mutationFn: ({ release, stage, action, text }: { release: TRelease; stage: TReleaseStage; action: TStageAction; text: string }) =>
      action === "promote"
        ? api(`/api/v1/releases/${release.id}/promote`, { method: "POST", body: { environment: stage.environment.name, reason: text || undefined } })
        : action === "rollback"
          ? api(`/api/v1/releases/${release.id}/environments/${encodeURIComponent(stage.environment.name)}/rollback`, { method: "POST", body: { reason: text || undefined } })
          : api(`/api/v1/releases/${release.id}/environments/${encodeURIComponent(stage.environment.name)}/${action}`, { method: "POST", body: { comment: text || undefined } }),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: ["releases"] });
      await queryClient.invalidateQueries({ queryKey: ["deployments"] });
    },
  });
  return (
    <>
      <div className="table-wrap">
        <table className="table release-matrix" aria-label="Releases by environment">
          <thead>
            <tr>
              <th>Version</th>
              {envs.map((e) => (
                <th key={e}>{e}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {releases.map((r) => (
              <tr key={r.id} data-release={r.id}>
                <td style={{ verticalAlign: "top" }}>
                  <Link href={`/models/${r.modelVersion.id}`}>
                    {r.modelVersion.modelName} v{r.modelVersion.version}
                  </Link>
                  <div className="small muted">
                    {r.endpointName} · {r.run ? <Link href={`/runs/${r.run.id}`}>run #{r.run.number}</Link> : "manual"} · {formatRelative(r.createdAt)}
                  </div>
                  <StatusBadge status={r.state === "in_progress" ? "running" : r.state} label={r.state.replace("_", " ")} />
                </td>
                {envs.map((e) => {
                  const stage = r.stages.find((s) => s.environment.name === e);
                  return stage ? (
                    <StageCell key={e} release={r} stage={stage} fetchedAt={fetchedAt} onAction={(s, action) => setPending({ release: r, stage: s, action })} />
                  ) : (
                    <td key={e} className="muted small" data-label={e}>
                      not in this release
                    </td>
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {pending && (
        <ConfirmDialog
          title={
            pending.action === "promote"
              ? `Promote ${pending.release.modelVersion.modelName} v${pending.release.modelVersion.version} to ${pending.stage.environment.name}?`
              : pending.action === "rollback"
                ? `Roll back ${pending.stage.environment.name} to its last known good version?`
                : `${pending.action === "approve" ? "Approve" : "Reject"} ${pending.stage.environment.name} for ${pending.release.modelVersion.modelName} v${pending.release.modelVersion.version}?`
          }
          confirmLabel={pending.action === "promote" ? "Promote" : pending.action === "rollback" ? "Roll back" : pending.action === "approve" ? "Approve release" : "Reject release"}
          danger={pending.action === "rollback" || pending.action === "reject"}
          withReason={{
            label: pending.action === "approve" ? "Comment (optional)" : pending.action === "reject" ? "Comment (required)" : "Reason (recorded in the audit log)",
            required: pending.action === "reject" || pending.action === "rollback",
          }}
          onConfirm={(text) => act.mutateAsync({ ...pending, text })}
          onClose={() => setPending(null)}
        >
          {pending.action === "rollback"
            ? `Only ${pending.stage.environment.name} changes; other environments keep what they serve.`
            : pending.action === "promote"
              ? pending.stage.policy.approval.required > 0
                ? `${pending.stage.environment.name} then waits for ${pending.stage.policy.approval.required} approval(s).`
                : `The rollout in ${pending.stage.environment.name} starts now.`
              : null}
        </ConfirmDialog>
      )}
    </>
  );
}
