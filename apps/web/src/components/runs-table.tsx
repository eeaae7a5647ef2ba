"use client";
import { useInfiniteQuery } from "@tanstack/react-query";
import Link from "next/link";
import { api, qs } from "@/lib/client/api";
import { durationBetween, formatDuration, formatRelative, shortSha } from "@/lib/client/format";
import type { TPage, TRunSummary } from "@/lib/client/types";
import { useNow } from "@/hooks/use-now";
import { DataTable, LoadMore } from "./data-table";
import { Empty, ErrorState, Loading, StatusBadge } from "./ui";

const ACTIVE = new Set(["queued", "running", "waiting_approval"]);

export function RunsTable({ projectId, pipelineId, status, showPipeline = true }: { projectId?: string; pipelineId?: string; status?: string; showPipeline?: boolean }) {
  const now = useNow(1000);
  const query = useInfiniteQuery({
    queryKey: ["runs", { projectId, pipelineId, status }],
    enabled: Boolean(projectId || pipelineId),
    initialPageParam: undefined as string | undefined,
    queryFn: ({ pageParam }) => api<TPage<TRunSummary>>(`/api/v1/runs${qs({ projectId, pipelineId, status, cursor: pageParam, limit: 25 })}`),
    getNextPageParam: (last) => last.nextCursor ?? undefined,
    // Poll while anything on screen is still moving.
    refetchInterval: (q) => (q.state.data?.pages.some((p) => p.items.some((r) => ACTIVE.has(r.status))) ? 3000 : 15_000),
  });
  if (query.isLoading) return <Loading rows={4} />;
  if (query.error && !query.data) return <ErrorState error={query.error} retry={() => void query.refetch()} />;
  const runs = query.data?.pages.flatMap((p) => p.items) ?? [];
  if (!runs.length) return <Empty title="No runs yet">Trigger a pipeline to start one.</Empty>;
  return (
    <div className="stack" style={{ gap: 8 }}>
      <DataTable columns={["Run", showPipeline && "Pipeline", "Status", { label: "Stage", className: "hide-sm" }, { label: "Trigger", className: "hide-sm" }, { label: "Commit", className: "hide-sm" }, { label: "Duration", className: "num" }, { label: "Started", className: "hide-sm" }]}>
        {runs.map((run) => (
          <tr key={run.id}>
            <td>
              <Link href={`/runs/${run.id}`}>#{run.number}</Link>
            </td>
            {showPipeline && <td>{run.pipelineName ?? <Link href={`/pipelines/${run.pipelineId}`}>pipeline</Link>}</td>}
            <td>
              <StatusBadge status={run.status} />
            </td>
            <td className="hide-sm">{run.currentStage ?? "—"}</td>
            <td className="hide-sm">{run.trigger}</td>
            <td className="hide-sm mono">{shortSha(run.gitCommit)}</td>
            <td className="num">{formatDuration(durationBetween(run.startedAt, run.finishedAt, now))}</td>
            <td className="hide-sm nowrap" title={run.createdAt}>
              {formatRelative(run.createdAt, now)}
            </td>
          </tr>
        ))}
      </DataTable>
      {query.hasNextPage ? (
        <div>
          <LoadMore query={query} />
        </div>
      ) : null}
    </div>
  );
}
