"use client";
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useState } from "react";
import { api } from "@/lib/client/api";
import { ACTIVE_DEPLOYMENT_STATES, effectiveShares, servingByEndpoint, stepLabel, variantLabel } from "@/lib/client/deployments";
import { formatPercentBps, formatRelative } from "@/lib/client/format";
import type { TDeployment, TEnvironment } from "@/lib/client/types";
import { useProject } from "@/hooks/use-project";
import { DataTable } from "@/components/data-table";
import { WeightsBar } from "@/components/deployment-panels";
import { Badge, Empty, PageHead, QueryView, StatusBadge } from "@/components/ui";

const NEW_ROLES = new Set(["canary", "green", "b"]);

function ServingCell({ d }: { d: TDeployment }) {
  const shares = effectiveShares(d.variants);
  const live = d.variants.filter((v) => v.weightBps > 0);
  return (
    <>
      <WeightsBar variants={d.variants} state={d.state} />
      <div className="small" style={{ marginTop: 2 }}>
        {live.map((v, i) => (
          <span key={v.id}>
            {i > 0 ? " · " : ""}
            <Link href={`/models/${v.modelVersionId}`}>{v.servedModelName}</Link> <span className="muted">{variantLabel(d.state, v)}</span> <strong>{formatPercentBps(shares.get(v.id) ?? 0)}</strong>
          </span>
        ))}
      </div>
    </>
  );
}

export default function DeploymentsPage() {
  const { projectId } = useProject();
  const [showFinished, setShowFinished] = useState(false);
  const environments = useQuery({
    queryKey: ["environments", projectId],
    enabled: Boolean(projectId),
    queryFn: () => api<{ items: TEnvironment[] }>(`/api/v1/projects/${projectId}/environments`),
    select: (d) => d.items,
  });
  const deployments = useQuery({
    queryKey: ["deployments", projectId],
    enabled: Boolean(projectId),
    queryFn: () => api<{ items: TDeployment[] }>(`/api/v1/projects/${projectId}/deployments`),
    select: (d) => d.items,
    refetchInterval: 5000,
  });
  const tierOrder = { dev: 0, staging: 1, prod: 2 } as const;
  return (
    <>
      <PageHead
        title="Deployments"
        sub="Per environment: what serves traffic now, and how the split is set."
        actions={
          <label className="row small">
            <input type="checkbox" checked={showFinished} onChange={(e) => setShowFinished(e.target.checked)} /> Show history
          </label>
        }
      />
      {!projectId ? (
        <Empty title="No project selected" />
      ) : (
        <QueryView query={environments} isEmpty={(d) => d.length === 0} empty={<Empty title="No environments">An admin creates them under Settings.</Empty>}>
          {(envs) => (
            <div className="stack">
              {[...envs].sort((a, b) => tierOrder[a.tier] - tierOrder[b.tier]).map((env) => {
                const serving = servingByEndpoint(deployments.data ?? [], env.id);
                const history = (deployments.data ?? []).filter((d) => d.environmentId === env.id);
                return (
                  <section key={env.id} className="card" aria-label={`Environment ${env.name}`}>
                    <div className="card-head">
                      <h2 className="row">
                        {env.name} <Badge>{env.tier}</Badge>
                        {env.requiresApproval ? <Badge tone="amber">approval required</Badge> : null}
                      </h2>
                      {env.inferenceUrl ?? env.gatewayUrl ? <code className="small muted" style={{ overflowWrap: "anywhere" }}>{env.inferenceUrl ?? env.gatewayUrl}</code> : <span className="muted small mono">{env.namespace}</span>}
                    </div>
                    {deployments.isLoading ? (
                      <div className="skeleton" />
                    ) : deployments.error ? (
                      <div className="alert red">{(deployments.error as Error).message}</div>
                    ) : !serving.length ? (
                      <div className="muted small">Nothing serves in {env.name}.</div>
                    ) : (
                      <DataTable columns={["Endpoint and rollout", { label: "Serving now", style: { minWidth: 180 } }, { label: "Updated", className: "hide-sm" }]}>
                        {serving.map(({ endpointName, serving: d, upcoming }) => (
                          <tr key={endpointName} data-endpoint={endpointName}>
                            <td>
                              <Link href={`/deployments/${(d ?? upcoming)!.id}`}>{endpointName}</Link>
                              {d ? (
                                <div className="row" style={{ gap: 4 }}>
                                  <StatusBadge status={d.state} />
                                  {ACTIVE_DEPLOYMENT_STATES.has(d.state) ? <span className="small muted">{stepLabel(d)}</span> : null}
                                </div>
                              ) : null}
                              {upcoming ? (
                                <div className="small" style={{ marginTop: 2 }}>
                                  next: <Link href={`/deployments/${upcoming.id}`}>{upcoming.variants.find((v) => NEW_ROLES.has(v.role))?.servedModelName ?? "new version"}</Link> <StatusBadge status={upcoming.state} />
                                </div>
                              ) : null}
                            </td>
                            <td>{d ? <ServingCell d={d} /> : <span className="muted">nothing yet</span>}</td>
                            <td className="hide-sm">{d ? formatRelative(d.finishedAt ?? d.createdAt) : ""}</td>
                          </tr>
                        ))}
                      </DataTable>
                    )}
                    {showFinished && history.length ? (
                      <details open style={{ marginTop: 8 }}>
                        <summary className="small">All rollouts in {env.name} ({history.length})</summary>
                        <DataTable columns={["Endpoint", "State", { label: "Strategy", className: "hide-sm" }, "Versions", { label: "Updated", className: "hide-sm" }]}>
                          {history.map((d) => (
                            <tr key={d.id}>
                              <td>
                                <Link href={`/deployments/${d.id}`}>{d.endpointName}</Link>
                              </td>
                              <td>
                                <StatusBadge status={d.state} />
                              </td>
                              <td className="hide-sm">{d.strategy.replace("_", "-")}</td>
                              <td className="small">{d.variants.map((v) => `${v.servedModelName} ${variantLabel(d.state, v)} ${formatPercentBps(v.weightBps)}`).join(" · ")}</td>
                              <td className="hide-sm">{formatRelative(d.finishedAt ?? d.createdAt)}</td>
                            </tr>
                          ))}
                        </DataTable>
                      </details>
                    ) : null}
                  </section>
                );
              })}
            </div>
          )}
        </QueryView>
      )}
    </>
  );
}
