"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useParams } from "next/navigation";
import { useEffect, useState } from "react";
import { api, qs } from "@/lib/client/api";
import { effectiveShares, stepLabel, variantLabel, waitingForTraffic } from "@/lib/client/deployments";
import { formatPercentBps, formatTime } from "@/lib/client/format";
import type { TDeployment, TEnvironment, TRolloutEvent, TVariant } from "@/lib/client/types";
import { useProject } from "@/hooks/use-project";
import { ConfirmDialog } from "@/components/confirm-dialog";
import { RolloutTimeline, ServingCharts, WeightsBar } from "@/components/deployment-panels";
import { FeedbackPanel } from "@/components/feedback-panel";
import { ShadowPanel, type TShadowResults } from "@/components/shadow-panel";
import { AbPowerPanel } from "@/components/ab-power-panel";
import { TrafficSplitChart } from "@/components/traffic-split-chart";
import { Badge, PageHead, QueryView, StatusBadge } from "@/components/ui";

const ACTIVE = new Set(["pending", "awaiting_approval", "progressing", "paused"]);
const NEW_ROLES = new Set(["canary", "green", "b"]);
type TAction = "promote" | "rollback" | "pause" | "resume" | "split";

function SplitEditor({ variants, onApply, disabled }: { variants: TVariant[]; onApply: (weights: Record<string, number>) => void; disabled: boolean }) {
  const [weights, setWeights] = useState<Record<string, number>>(() => Object.fromEntries(variants.map((v) => [v.id, v.weightBps])));
  // Follow the server's weights when they change (controller step, another user); keyed by value, not identity.
  const serverKey = variants.map((v) => `${v.id}:${v.weightBps}`).join(",");
  useEffect(() => setWeights(Object.fromEntries(serverKey.split(",").map((kv) => [kv.split(":")[0]!, Number(kv.split(":")[1])]))), [serverKey]);
  const total = Object.values(weights).reduce((a, b) => a + b, 0);
  const changed = variants.some((v) => weights[v.id] !== v.weightBps);
  const [first, second] = variants;
  return (
    <div className="stack" style={{ gap: 8 }}>
      {variants.length === 2 && first && second ? (
        <div className="field">
          <label htmlFor="split-slider">
            {first.role} {formatPercentBps(weights[first.id] ?? 0)} / {second.role} {formatPercentBps(weights[second.id] ?? 0)}
          </label>
          <input
            id="split-slider"
            type="range"
            className="slider"
            min={0}
            max={10000}
            step={100}
            value={weights[first.id] ?? 0}
            disabled={disabled}
            aria-valuetext={`${first.role} ${formatPercentBps(weights[first.id] ?? 0)}, ${second.role} ${formatPercentBps(10000 - (weights[first.id] ?? 0))}`}
            onChange={(e) => {
              const bps = Number(e.target.value);
              setWeights({ [first.id]: bps, [second.id]: 10000 - bps });
            }}
          />
        </div>
      ) : (
        <div className="form-grid">
          {variants.map((v) => (
            <div className="field" key={v.id}>
              <label htmlFor={`w-${v.id}`}>{v.role} (%)</label>
              <input id={`w-${v.id}`} className="input" type="number" min={0} max={100} step={1} disabled={disabled} value={(weights[v.id] ?? 0) / 100} onChange={(e) => setWeights((w) => ({ ...w, [v.id]: Math.round(Number(e.target.value) * 100) }))} />
            </div>
          ))}
        </div>
      )}
      {total !== 10000 ? <div className="small" style={{ color: "var(--red)" }}>Weights add up to {formatPercentBps(total)}; they must total 100%.</div> : null}
      <div className="row">
        <button type="button" className="btn btn-primary btn-sm" disabled={disabled || !changed || total !== 10000} onClick={() => onApply(weights)}>
          Apply split
        </button>
        {changed ? (
          <button type="button" className="btn btn-sm" onClick={() => setWeights(Object.fromEntries(variants.map((v) => [v.id, v.weightBps])))}>
            Reset
          </button>
        ) : null}
      </div>
    </div>
  );
}

export default function DeploymentPage() {
  const { deploymentId } = useParams<{ deploymentId: string }>();
  const queryClient = useQueryClient();
  const { can } = useProject();
  const [action, setAction] = useState<TAction | null>(null);
  const [pendingSplit, setPendingSplit] = useState<Record<string, number> | null>(null);
  const query = useQuery({
    queryKey: ["deployment", deploymentId],
    queryFn: async () => {
      const data = await api<{ deployment: TDeployment & { projectId: string }; events: TRolloutEvent[]; shadow: TShadowResults | null }>(`/api/v1/deployments/${deploymentId}`);
      return { ...data.deployment, events: data.events, shadow: data.shadow };
    },
    refetchInterval: (q) => (q.state.data && ACTIVE.has(q.state.data.state) ? 3000 : 30_000),
  });
  const projectOf = query.data?.projectId;
  const environments = useQuery({
    queryKey: ["environments", projectOf],
    enabled: Boolean(projectOf),
    queryFn: () => api<{ items: TEnvironment[] }>(`/api/v1/projects/${projectOf}/environments`),
    select: (d) => d.items,
  });
  // Requests the new version has taken since its current step started, against the step's minimum.
  const d0 = query.data;
  const newVariantId = d0?.variants.find((v) => NEW_ROLES.has(v.role))?.id;
  const stepRequests = useQuery({
    queryKey: ["deployment-step-requests", deploymentId, d0?.stepStartedAt ?? d0?.createdAt],
    enabled: Boolean(d0 && d0.state === "progressing" && d0.strategy === "canary" && newVariantId),
    queryFn: () => api<{ variants: { variantId: string; summary?: { requests?: number } }[] }>(`/api/v1/deployments/${deploymentId}/metrics${qs({ since: d0?.stepStartedAt ?? d0?.createdAt })}`),
    select: (m) => m.variants.find((v) => v.variantId === newVariantId)?.summary?.requests ?? 0,
    refetchInterval: 5000,
  });
  const act = useMutation({
    mutationFn: ({ kind, reason }: { kind: TAction; reason: string }) =>
      kind === "split"
        ? api(`/api/v1/deployments/${deploymentId}/split`, { method: "POST", body: { weights: pendingSplit, reason: reason || undefined } })
        : api(`/api/v1/deployments/${deploymentId}/${kind}`, { method: "POST", body: { reason: reason || undefined } }),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: ["deployment", deploymentId] });
      await queryClient.invalidateQueries({ queryKey: ["deployments"] });
    },
  });

  return (
    <QueryView query={query} rows={6}>
      {(d) => {
        const active = ACTIVE.has(d.state);
        const environmentName = environments.data?.find((e) => e.id === d.environmentId)?.name;
        const operable = active && can("engineer");
        const splitSummary = pendingSplit ? d.variants.map((v) => `${v.role} ${formatPercentBps(pendingSplit[v.role] ?? 0)}`).join(", ") : "";
        const notReady = d.variants.filter((v) => v.status !== "ready" && v.weightBps === 0);
        const shares = effectiveShares(d.variants);
        const step = stepLabel(d);
        const waiting = waitingForTraffic(d, stepRequests.data);
        const alone = d.variants.filter((v) => v.weightBps > 0).length === 1;
        return (
          <>
            <PageHead
              crumbs={[{ href: "/deployments", label: "Deployments" }]}
              title={
                <span className="row">
                  {environmentName ? `${environmentName} / ` : ""}
                  {d.endpointName} <StatusBadge status={d.state} />
                </span>
              }
              sub={`${d.strategy.replace("_", "-")}${step ? ` · ${step}` : ""} · created ${formatTime(d.createdAt)}${d.reason ? ` · ${d.reason}` : ""}`}
              actions={
                operable ? (
                  <>
                    {d.state === "paused" ? (
                      <button type="button" className="btn" onClick={() => setAction("resume")}>
                        Resume
                      </button>
                    ) : d.state === "progressing" ? (
                      <button type="button" className="btn" onClick={() => setAction("pause")}>
                        Pause
                      </button>
                    ) : null}
                    <button type="button" className="btn btn-danger" onClick={() => setAction("rollback")}>
                      Roll back
                    </button>
                    <button type="button" className="btn btn-primary" onClick={() => setAction("promote")} disabled={d.state === "awaiting_approval"}>
                      Promote
                    </button>
                  </>
                ) : null
              }
            />
            {waiting ? (
              <div className="alert blue" role="status" data-testid="waiting-for-traffic" style={{ marginBottom: 12 }}>
                Canary {step}: {waiting}. The step advances once it has seen enough traffic and its analysis window has passed.
              </div>
            ) : null}
            {d.state === "awaiting_approval" ? (
              <div className="alert amber" style={{ marginBottom: 12 }}>
                This release waits for approval. <Link href="/approvals">Open the approvals inbox</Link>.
              </div>
            ) : null}
            <div className="stack">
              <div className="grid grid-2">
                <div className="card">
                  <h2>Variants</h2>
                  <WeightsBar variants={d.variants} state={d.state} />
                  <div className="table-wrap" style={{ marginTop: 10 }}>
                    <table className="table">
                      <thead>
                        <tr>
                          <th>Role</th>
                          <th>Model version</th>
                          <th>Status</th>
                          <th className="num">Share of requests</th>
                        </tr>
                      </thead>
                      <tbody>
                        {d.variants.map((v) => (
                          <tr key={v.id}>
                            <td>
                              <Badge tone={d.state === "promoted" && v.weightBps > 0 ? "green" : "violet"}>{variantLabel(d.state, v)}</Badge>
                            </td>
                            <td>
                              <Link href={`/models/${v.modelVersionId}`}>{v.servedModelName ?? v.modelVersionId.slice(0, 8)}</Link>
                            </td>
                            <td>
                              <StatusBadge status={v.status} />
                            </td>
                            <td className="num" title={`configured weight ${formatPercentBps(v.weightBps)}`}>
                              {formatPercentBps(shares.get(v.id) ?? 0)}
                              {alone && v.weightBps > 0 && v.weightBps < 10_000 ? <div className="small muted">only version; step weight {formatPercentBps(v.weightBps)}</div> : null}
                            </td>
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  </div>
                </div>
                <div className="card">
                  <h2>Traffic split</h2>
                  {!active ? (
                    <p className="muted">This rollout is {d.state.replace(/_/g, " ")}; its split can no longer change.</p>
                  ) : d.variants.length < 2 ? (
                    <p className="muted">This is the first version on {d.endpointName}: it serves all traffic while each step checks its SLOs; a split needs two versions.</p>
                  ) : (
                    <SplitEditor
                      variants={d.variants}
                      disabled={!operable}
                      onApply={(weights) => {
                        // The API addresses variants by role (stable/canary, blue/green, a/b).
                        setPendingSplit(Object.fromEntries(d.variants.map((v) => [v.role, weights[v.id] ?? 0])));
                        setAction("split");
                      }}
                    />
                  )}
                  {!operable && active ? <p className="muted small">Engineers and above can change the split.</p> : null}
                  {operable && notReady.length ? (
                    <p className="muted small">
                      {notReady.map((v) => `${v.role} is ${v.status}`).join(", ")}: it can take traffic once its backend is ready.
                    </p>
                  ) : null}
                </div>
              </div>
              <TrafficSplitChart events={d.events ?? []} variants={d.variants} strategy={d.strategy} policy={d.policy} live={active} />
              {d.shadow ? <ShadowPanel shadow={d.shadow} /> : null}
              {d.strategy === "ab" && d.variants.length === 2 ? <AbPowerPanel deploymentId={d.id} variants={d.variants} policy={d.policy} live={active} /> : null}
              <ServingCharts deploymentId={d.id} variants={d.variants} live={active} />
              <FeedbackPanel deploymentId={d.id} projectId={d.projectId} variants={d.variants} canEdit={can("engineer")} />
              <div className="card">
                <h2>Rollout timeline</h2>
                <RolloutTimeline events={d.events ?? []} />
              </div>
            </div>
            {action && (
              <ConfirmDialog
                title={
                  action === "split"
                    ? `Set the split to ${splitSummary}?`
                    : action === "promote"
                      ? `Promote ${d.endpointName} to 100%?`
                      : action === "rollback"
                        ? `Roll back ${d.endpointName}?`
                        : `${action === "pause" ? "Pause" : "Resume"} the rollout?`
                }
                confirmLabel={action === "split" ? "Apply split" : action === "rollback" ? "Roll back" : action[0]!.toUpperCase() + action.slice(1)}
                danger={action === "rollback"}
                withReason={{ label: action === "rollback" ? "Reason (recorded in the audit log)" : "Reason (optional, recorded in the audit log)", required: action === "rollback" }}
                onConfirm={(reason) => act.mutateAsync({ kind: action, reason })}
                onClose={() => setAction(null)}
              >
                {action === "rollback" ? "All traffic returns to the stable version and the new variant is retired." : action === "promote" ? "The new variant takes all traffic and the rollout finishes." : null}
              </ConfirmDialog>
            )}
          </>
        );
      }}
    </QueryView>
  );
}
