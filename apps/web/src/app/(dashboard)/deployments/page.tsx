"use client";
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useState } from "react";
import { api } from "@/lib/client/api";
import { formatPercentBps, formatRelative } from "@/lib/client/format";
import type { TDeployment, TEnvironment } from "@/lib/client/types";
import { useProject } from "@/hooks/use-project";
import { DataTable } from "@/components/data-table";
import { WeightsBar } from "@/components/deployment-panels";
import { Badge, Empty, PageHead, QueryView, StatusBadge } from "@/components/ui";

const ACTIVE = ["pending", "awaiting_approval", "progressing", "paused"];

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
            <input type="checkbox" checked={showFinished} onChange={(e) => setShowFinished(e.target.checked)} /> Show finished
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
                const rows = (deployments.data ?? []).filter((d) => d.environmentId === env.id && (showFinished || ACTIVE.includes(d.state)));
                return (
                  <section key={env.id} className="card" aria-label={`Environment ${env.name}`}>
                    <div className="card-head">
                      <h2 className="row">
                        {env.name} <Badge>{env.tier}</Badge>
                        {env.requiresApproval ? <Badge tone="amber">approval required</Badge> : null}
                      </h2>
                      <span className="muted small mono">{env.namespace}</span>
                    </div>
                    {deployments.isLoading ? (
                      <div className="skeleton" />
                    ) : deployments.error ? (
                      <div className="alert red">{(deployments.error as Error).message}</div>
                    ) : !rows.length ? (
                      <div className="muted small">Nothing {showFinished ? "" : "active "}in {env.name}.</div>
                    ) : (
                      <DataTable columns={["Endpoint", "State", { label: "Strategy", className: "hide-sm" }, { label: "Variants", style: { minWidth: 180 } }, { label: "Updated", className: "hide-sm" }]}>
                        {rows.map((d) => (
                          <tr key={d.id}>
                            <td>
                              <Link href={`/deployments/${d.id}`}>{d.endpointName}</Link>
                            </td>
                            <td>
                              <StatusBadge status={d.state} />
                            </td>
                            <td className="hide-sm">{d.strategy.replace("_", "-")}</td>
                            <td>
                              <WeightsBar variants={d.variants} />
                              <div className="small muted" style={{ marginTop: 2 }}>
                                {d.variants.map((v) => `${v.role} ${v.servedModelName ?? ""} ${formatPercentBps(v.weightBps)}`).join(" · ")}
                              </div>
                            </td>
                            <td className="hide-sm">{formatRelative(d.finishedAt ?? d.createdAt)}</td>
                          </tr>
                        ))}
                      </DataTable>
                    )}
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
