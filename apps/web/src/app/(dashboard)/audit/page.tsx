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
  const { projectId, me } = useProject();
  const isAdmin = me?.user.role === "admin";
  const directory = useDirectory(projectId);
  const [action, setAction] = useState("");
  // "" anyone · "type:user|token|system" every actor of that kind · otherwise one person's id.
  const [actor, setActor] = useState("");
  const [subjectType, setSubjectType] = useState("");
  const [everywhere, setEverywhere] = useState(false);
  // Users and tokens belong to no project: their entries show only outside the project filter (admins).
  const unscoped = isAdmin && (everywhere || subjectType === "user" || subjectType === "token");
  const actorFilter = actor.startsWith("type:") ? { actorType: actor.slice(5) } : actor ? { actorId: actor } : {};
  const filters = useDebouncedValue({ action: action.trim(), ...actorFilter, subjectType }, 300);
  const query = useInfiniteQuery({
    queryKey: ["audit", unscoped ? null : projectId, filters],
    enabled: Boolean(projectId) || unscoped,
    initialPageParam: undefined as string | undefined,
    queryFn: ({ pageParam }) => api<TPage<TAuditEntry>>(`/api/v1/audit${qs({ projectId: unscoped ? undefined : projectId, ...filters, cursor: pageParam })}`),
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
          <label htmlFor="f-actor">Actor</label>
          <select id="f-actor" className="input" value={actor} onChange={(e) => setActor(e.target.value)}>
            <option value="">anyone</option>
            <option value="type:user">any user</option>
            <option value="type:token">API tokens</option>
            <option value="type:system">the system</option>
            {directory.members.length ? (
              <optgroup label="Members">
                {directory.members.map((m) => (
                  <option key={m.userId} value={m.userId}>
                    {m.name || m.email}
                  </option>
                ))}
              </optgroup>
            ) : null}
            {actor && !actor.startsWith("type:") && !directory.members.some((m) => m.userId === actor) ? <option value={actor}>{actor}</option> : null}
          </select>
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
        {isAdmin ? (
          <label className="row small" style={{ alignSelf: "end" }}>
            <input type="checkbox" checked={unscoped} disabled={subjectType === "user" || subjectType === "token"} onChange={(e) => setEverywhere(e.target.checked)} /> Every project, users and tokens
          </label>
        ) : subjectType === "user" || subjectType === "token" ? (
          <span className="hint" style={{ alignSelf: "end" }}>
            User and token changes belong to no project; admins see them.
          </span>
        ) : null}
      </form>
      {!projectId && !unscoped ? (
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
                    <button type="button" className="btn btn-ghost btn-sm mono" title="Filter by this actor" onClick={() => setActor(r.actorId ?? "")}>
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
