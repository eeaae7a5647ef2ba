"use client";
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { api } from "@/lib/client/api";
import { formatRelative, shortSha } from "@/lib/client/format";
import type { TModel } from "@/lib/client/types";
import { useProject } from "@/hooks/use-project";
import { DataTable } from "@/components/data-table";
import { Badge, Empty, PageHead, QueryView, StatusBadge } from "@/components/ui";

export default function ModelsPage() {
  const { projectId } = useProject();
  const router = useRouter();
  const [picked, setPicked] = useState<string[]>([]);
  const query = useQuery({
    queryKey: ["models", projectId],
    enabled: Boolean(projectId),
    queryFn: () => api<{ items: TModel[] }>(`/api/v1/projects/${projectId}/models`),
    select: (d) => d.items,
    refetchInterval: 15_000,
  });
  const toggle = (id: string) => setPicked((p) => (p.includes(id) ? p.filter((x) => x !== id) : [...p.slice(-1), id]));
  return (
    <>
      <PageHead
        title="Model registry"
        sub="Versions registered by runs that passed their gate."
        actions={
          <button type="button" className="btn btn-primary" disabled={picked.length !== 2} onClick={() => router.push(`/models/compare?a=${picked[0]}&b=${picked[1]}`)}>
            Compare {picked.length}/2
          </button>
        }
      />
      {!projectId ? (
        <Empty title="No project selected" />
      ) : (
        <QueryView query={query} isEmpty={(d) => d.length === 0} empty={<Empty title="No model versions yet">A run that passes its evaluation gate registers one.</Empty>}>
          {(models) => (
            <div className="stack">
              {models.map((model) => (
                <section key={model.name} className="card" aria-label={model.name}>
                  <div className="card-head">
                    <h2>{model.name}</h2>
                    <span className="muted small">{model.versions.length} version(s)</span>
                  </div>
                  <DataTable
                    columns={[
                      { label: <span className="hide-sm">Cmp</span>, style: { width: 32 } },
                      "Version",
                      "Status",
                      "Aliases",
                      { label: "Base model", className: "hide-sm" },
                      { label: "Commit", className: "hide-sm" },
                      { label: "Run", className: "hide-sm" },
                      { label: "Created", className: "hide-sm" },
                    ]}
                  >
                    {[...model.versions].sort((a, b) => b.version - a.version).map((v) => (
                      <tr key={v.id}>
                        <td>
                          <input type="checkbox" aria-label={`Compare ${model.name} v${v.version}`} checked={picked.includes(v.id)} onChange={() => toggle(v.id)} />
                        </td>
                        <td>
                          <Link href={`/models/${v.id}`}>v{v.version}</Link>
                        </td>
                        <td>
                          <StatusBadge status={v.status} />
                        </td>
                        <td>
                          <span className="row" style={{ gap: 4 }}>
                            {(v.aliases ?? []).map((a) => (
                              <Badge key={a} tone="violet">
                                @{a}
                              </Badge>
                            ))}
                          </span>
                        </td>
                        <td className="hide-sm mono small">{v.baseModel}</td>
                        <td className="hide-sm mono">{shortSha(v.gitCommit)}</td>
                        <td className="hide-sm">
                          <Link href={`/runs/${v.runId}`}>run</Link>
                        </td>
                        <td className="hide-sm">{formatRelative(v.createdAt)}</td>
                      </tr>
                    ))}
                  </DataTable>
                </section>
              ))}
            </div>
          )}
        </QueryView>
      )}
    </>
  );
}
