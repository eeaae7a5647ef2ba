"use client";
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { api, qs } from "@/lib/client/api";
import { formatRelative } from "@/lib/client/format";
import type { TPage, TPipeline, TRunSummary } from "@/lib/client/types";
import { useProject } from "@/hooks/use-project";
import { DataTable } from "@/components/data-table";
import { TriggerButton } from "@/components/trigger-button";
import { Empty, PageHead, QueryView, StatusBadge } from "@/components/ui";

function specField(spec: unknown, path: string[]): string {
  let v: unknown = spec;
  for (const k of path) v = v && typeof v === "object" ? (v as Record<string, unknown>)[k] : undefined;
  return v === undefined || v === null ? "—" : String(v);
}

function LastRun({ run, known }: { run: TRunSummary | undefined; known: boolean }) {
  if (!known) return <span className="muted">—</span>;
  if (!run) return <span className="muted">never run</span>;
  return (
    <Link href={`/runs/${run.id}`}>
      <StatusBadge status={run.status} label={`#${run.number} ${run.status.replace(/_/g, " ")}`} />
    </Link>
  );
}

export default function PipelinesPage() {
  const { projectId, project, can } = useProject();
  const query = useQuery({
    queryKey: ["pipelines", projectId],
    enabled: Boolean(projectId),
    queryFn: () => api<{ items: TPipeline[] }>(`/api/v1/projects/${projectId}/pipelines`),
    select: (d) => d.items,
    refetchInterval: 10_000,
  });
  // The newest run of each pipeline, from one page of the project's runs (newest first).
  const recent = useQuery({
    queryKey: ["runs", { projectId, latest: true }],
    enabled: Boolean(projectId),
    queryFn: () => api<TPage<TRunSummary>>(`/api/v1/runs${qs({ projectId, limit: 200 })}`),
    select: (d) => {
      const latest = new Map<string, TRunSummary>();
      for (const run of d.items) if (!latest.has(run.pipelineId)) latest.set(run.pipelineId, run);
      return latest;
    },
    refetchInterval: 5000,
  });
  return (
    <>
      <PageHead
        title="Pipelines"
        sub={project ? `Fine-tune → eval → serve pipelines in ${project.name}` : undefined}
        actions={can("engineer") ? <Link className="btn btn-primary" href="/pipelines/new">New pipeline</Link> : null}
      />
      {!projectId ? (
        <Empty title="No project selected">Ask an admin to add you to a project.</Empty>
      ) : (
        <QueryView
          query={query}
          isEmpty={(d) => d.length === 0}
          empty={
            <Empty title="No pipelines yet">
              {can("engineer") ? <Link href="/pipelines/new">Create the first pipeline</Link> : "An engineer can create one."}
            </Empty>
          }
        >
          {(pipelines) => (
            <DataTable columns={["Name", { label: "Base model", className: "hide-sm" }, { label: "Dataset", className: "hide-sm" }, "Last run", { label: "Updated", className: "hide-sm" }, ""]}>
              {pipelines.map((p) => (
                <tr key={p.id}>
                  <td>
                    <Link href={`/pipelines/${p.id}`}>{p.name}</Link>
                    <div className="muted small">v{p.specVersion}{p.description ? ` · ${p.description}` : ""}</div>
                  </td>
                  <td className="hide-sm mono">{specField(p.spec, ["model", "baseModel"])}</td>
                  <td className="hide-sm">
                    {specField(p.spec, ["dataset", "name"])}@{specField(p.spec, ["dataset", "version"])}
                  </td>
                  <td>
                    <LastRun run={recent.data?.get(p.id)} known={recent.isSuccess} />
                  </td>
                  <td className="hide-sm">{formatRelative(p.updatedAt)}</td>
                  <td className="right">{can("engineer") ? <TriggerButton pipelineId={p.id} /> : null}</td>
                </tr>
              ))}
            </DataTable>
          )}
        </QueryView>
      )}
    </>
  );
}
