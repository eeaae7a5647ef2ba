"use client";
import { useInfiniteQuery } from "@tanstack/react-query";
import { useState } from "react";
import { api, qs } from "@/lib/client/api";
import { formatTime } from "@/lib/client/format";
import type { TAuditEntry, TPage } from "@/lib/client/types";
import { useDebouncedValue } from "@/hooks/use-debounced-value";
import { useDirectory } from "@/hooks/use-directory";
import { useProject } from "@/hooks/use-project";
import { DataTable, LoadMore } from "@/components/data-table";
import { Empty, ErrorState, Loading, PageHead } from "@/components/ui";

const SUBJECTS = ["", "pipeline", "run", "model_version", "deployment", "approval", "environment", "token", "user", "webhook", "project"];

function Diff({ before, after }: { before: unknown; after: unknown }) {
  if (before === undefined && after === undefined) return null;
  return (
    <details>
      <summary className="small">changes</summary>
      <pre className="mono small" style={{ margin: 0, whiteSpace: "pre-wrap", maxWidth: 480 }}>
        {before !== undefined && before !== null ? `before: ${JSON.stringify(before, null, 1)}\n` : ""}
        {after !== undefined && after !== null ? `after: ${JSON.stringify(after, null, 1)}` : ""}
      </pre>
    </details>
  );
}

export default function AuditPage() {
  const { projectId } = useProject();
  const directory = useDirectory(projectId);
  const [action, setAction] = useState("");
  const [actorId, setActorId] = useState("");
  const [subjectType, setSubjectType] = useState("");
  const filters = useDebouncedValue({ action: action.trim(), actorId: actorId.trim(), subjectType }, 300);
  const query = useInfiniteQuery({
    queryKey: ["audit", projectId, filters],
    enabled: Boolean(projectId),
    initialPageParam: undefined as string | undefined,
    queryFn: ({ pageParam }) => api<TPage<TAuditEntry>>(`/api/v1/audit${qs({ projectId, ...filters, cursor: pageParam })}`),
    getNextPageParam: (last) => last.nextCursor ?? undefined,
  });
  const rows = query.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <>
      <PageHead title="Audit log" sub="Every change, who made it and when." />
      <form className="form-grid card" style={{ marginBottom: 12 }} onSubmit={(e) => e.preventDefault()} aria-label="Filters">
        <div className="field">
          <label htmlFor="f-action">Action</label>
          <input id="f-action" className="input" list="audit-actions" placeholder="deployment.rollback" value={action} onChange={(e) => setAction(e.target.value)} />
          <datalist id="audit-actions">
            {[...new Set(rows.map((r) => r.action))].sort().map((a) => (
              <option key={a} value={a} />
            ))}
          </datalist>
          <span className="hint">Exact action name</span>
        </div>
        <div className="field">
          <label htmlFor="f-actor">Actor id</label>
          <input id="f-actor" className="input" value={actorId} onChange={(e) => setActorId(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="f-subject">Subject type</label>
          <select id="f-subject" className="input" value={subjectType} onChange={(e) => setSubjectType(e.target.value)}>
            {SUBJECTS.map((s) => (
              <option key={s} value={s}>
                {s || "any"}
              </option>
            ))}
          </select>
        </div>
      </form>
      {!projectId ? (
        <Empty title="No project selected" />
      ) : query.isLoading ? (
        <Loading rows={6} />
      ) : query.error && !query.data ? (
        <ErrorState error={query.error} retry={() => void query.refetch()} />
      ) : !rows.length ? (
        <Empty title="No audit entries match" />
      ) : (
        <>
          <DataTable columns={["Time", "Actor", "Action", "Subject", { label: "Details", className: "hide-sm" }]}>
            {rows.map((r) => (
              <tr key={String(r.id)}>
                <td className="nowrap">{formatTime(r.createdAt)}</td>
                <td>
                  {directory.userName(r.actorId) ?? r.actorType}
                  {r.actorId ? (
                    <button type="button" className="btn btn-ghost btn-sm mono" title="Filter by this actor" onClick={() => setActorId(r.actorId ?? "")}>
                      {r.actorId.slice(0, 12)}
                    </button>
                  ) : null}
                </td>
                <td className="mono">{r.action}</td>
                <td>
                  {r.subjectType}
                  {r.subjectId ? <div className="mono small muted">{r.subjectId.slice(0, 14)}</div> : null}
                </td>
                <td className="hide-sm">
                  <Diff before={r.before} after={r.after} />
                </td>
              </tr>
            ))}
          </DataTable>
          <LoadMore query={query} label="Load older entries" style={{ marginTop: 8 }} />
        </>
      )}
    </>
  );
}
