"use client";
import { useInfiniteQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useState } from "react";
import { api, qs } from "@/lib/client/api";
import { durationBetween, formatDuration, formatRelative, shortSha } from "@/lib/client/format";
import type { TPage, TRunSummary } from "@/lib/client/types";
import { useNow } from "@/hooks/use-now";
import { DataTable, LoadMore } from "./data-table";
import { Empty, ErrorState, Loading, StatusBadge } from "./ui";

const ACTIVE = new Set(["queued", "running", "waiting_approval", "awaiting_review"]);

/** Most runs the compare page takes at once (GET /runs/compare refuses more). */
const MAX_COMPARE = 10;

export function RunsTable({ projectId, pipelineId, status, showPipeline = true }: { projectId?: string; pipelineId?: string; status?: string; showPipeline?: boolean }) {
  const now = useNow(1000);
  const [selected, setSelected] = useState<string[]>([]);
  const toggle = (id: string) => setSelected((s) => (s.includes(id) ? s.filter((x) => x !== id) : s.length >= MAX_COMPARE ? s : [...s, id]));
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
      <div className="row small" aria-live="polite">
        <span className="muted">{selected.length ? `${selected.length} selected` : "Tick 2–10 runs to compare them"}</span>
        {selected.length >= 2 ? (
          <Link className="btn btn-sm btn-primary" href={`/runs/compare?ids=${selected.join(",")}`}>
            Compare {selected.length} runs
          </Link>
        ) : null}
        {selected.length ? (
          <button type="button" className="btn btn-sm btn-ghost" onClick={() => setSelected([])}>
            Clear
          </button>
        ) : null}
      </div>
      <DataTable columns={[{ label: "", style: { width: 28 } }, "Run", showPipeline && "Pipeline", "Status", { label: "Stage", className: "hide-sm" }, { label: "Trigger", className: "hide-sm" }, { label: "Commit", className: "hide-sm" }, { label: "Duration", className: "num" }, { label: "Started", className: "hide-sm" }]}>
        {runs.map((run) => (
          <tr key={run.id}>
            <td>
              <input
                type="checkbox"
                aria-label={`Select run #${run.number} to compare`}
                checked={selected.includes(run.id)}
                disabled={!selected.includes(run.id) && selected.length >= MAX_COMPARE}
                onChange={() => toggle(run.id)}
              />
            </td>
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
