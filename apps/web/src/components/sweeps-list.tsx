"use client";
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { api } from "@/lib/client/api";
import { formatNumber, formatRelative } from "@/lib/client/format";
import { DataTable } from "./data-table";
import { Empty, ErrorState, Loading, StatusBadge } from "./ui";

export interface TSweepSummary {
  id: string;
  objectiveMetric: string;
  direction: string;
  concurrency: number;
  status: string;
  bestValue: number | null;
  points: unknown[];
  runs: number;
  createdAt: string;
}

/** The pipeline's sweeps, newest first. */
export function SweepsList({ pipelineId }: { pipelineId: string }) {
  const query = useQuery({
    queryKey: ["sweeps", pipelineId],
    queryFn: () => api<{ items: TSweepSummary[] }>(`/api/v1/pipelines/${pipelineId}/sweeps`),
    refetchInterval: (q) => (q.state.data?.items.some((s) => s.status === "running" || s.status === "cancelling") ? 3000 : 15_000),
  });
  if (query.isLoading) return <Loading rows={2} />;
  if (query.error && !query.data) return <ErrorState error={query.error} retry={() => void query.refetch()} />;
  const items = query.data?.items ?? [];
  if (!items.length) return <Empty title="No sweeps yet">Start one above: each point runs as its own run.</Empty>;
  return (
    <DataTable columns={["Sweep", "Status", "Metric", { label: "Points", className: "num" }, { label: "Best", className: "num" }, { label: "Started", className: "hide-sm" }]}>
      {items.map((s) => (
        <tr key={s.id}>
          <td>
            <Link href={`/sweeps/${s.id}`} className="mono">
              {s.id.slice(-8)}
            </Link>
          </td>
          <td>
            <StatusBadge status={s.status} />
          </td>
          <td className="mono">
            {s.direction === "min" ? "min" : "max"} {s.objectiveMetric}
          </td>
          <td className="num">
            {s.runs}/{s.points.length}
          </td>
          <td className="num">{s.bestValue === null ? "—" : formatNumber(s.bestValue)}</td>
          <td className="hide-sm nowrap">{formatRelative(s.createdAt, Date.now())}</td>
        </tr>
      ))}
    </DataTable>
  );
}
