"use client";
// The feedback loop on a deployment page: the interactions the gateway stored (environments with feedback capture),
// reviewers' corrections, and "Create dataset version" from the filtered slice, then "Trigger pipeline on it".
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useMemo, useState } from "react";
import { api, errorMessage, newIdempotencyKey, qs } from "@/lib/client/api";
import { formatTime } from "@/lib/client/format";
import type { TVariant } from "@/lib/client/types";
import { Badge, Empty } from "@/components/ui";

type TRating = "up" | "down" | "corrected" | "unrated";
const RATINGS: { id: TRating; label: string }[] = [
  { id: "up", label: "Thumbs up" },
  { id: "down", label: "Thumbs down" },
  { id: "corrected", label: "Corrected" },
  { id: "unrated", label: "Unrated" },
];
const WINDOWS = [
  { id: "1h", label: "Last hour", ms: 3_600_000 },
  { id: "24h", label: "Last 24 hours", ms: 86_400_000 },
  { id: "7d", label: "Last 7 days", ms: 7 * 86_400_000 },
  { id: "30d", label: "Last 30 days", ms: 30 * 86_400_000 },
  { id: "all", label: "All stored", ms: 0 },
] as const;

interface TInteraction {
  id: string;
  requestId: string;
  variantRole: string;
  modelVersionId: string;
  operation: string;
  prompt: { messages?: { role: string; content: unknown }[]; prompt?: unknown };
  response: string;
  truncated: boolean;
  streamed: boolean;
  rating: "up" | "down" | null;
  comment: string | null;
  correction: string | null;
  createdAt: string;
}
interface TInteractionPage {
  capture: { enabled: boolean; retentionDays: number };
  matched: number;
  usable: number;
  items: TInteraction[];
  nextCursor: string | null;
}
interface TCreated {
  version: { id: string; version: string; rowCount: number; sha256: string };
  dataset: { id: string; name: string };
  deduplicated: boolean;
  skipped: number;
}

function promptText(i: TInteraction): string {
  const messages = i.prompt.messages;
  if (Array.isArray(messages)) {
    const user = [...messages].reverse().find((m) => m.role === "user");
    return typeof user?.content === "string" ? user.content : JSON.stringify(user?.content ?? "");
  }
  return typeof i.prompt.prompt === "string" ? i.prompt.prompt : JSON.stringify(i.prompt.prompt ?? "");
}

function CorrectionEditor({ deploymentId, interaction, onDone }: { deploymentId: string; interaction: TInteraction; onDone: () => void }) {
  const [text, setText] = useState(interaction.correction ?? interaction.response);
  const save = useMutation({
    mutationFn: (correction: string | null) => api(`/api/v1/deployments/${deploymentId}/interactions/${interaction.id}/correction`, { method: "PUT", body: { correction } }),
    onSuccess: onDone,
  });
  return (
    <div className="stack" style={{ gap: 6 }}>
      <textarea className="input" aria-label="Corrected answer" rows={3} value={text} onChange={(e) => setText(e.target.value)} />
      {save.error ? (
        <div className="small" role="alert" style={{ color: "var(--red)" }}>
          {errorMessage(save.error)}
        </div>
      ) : null}
      <div className="row">
        <button type="button" className="btn btn-primary btn-sm" disabled={save.isPending || !text.trim()} onClick={() => save.mutate(text)}>
          Save correction
        </button>
        {interaction.correction ? (
          <button type="button" className="btn btn-sm" disabled={save.isPending} onClick={() => save.mutate(null)}>
            Clear
          </button>
        ) : null}
        <button type="button" className="btn btn-sm" onClick={onDone}>
          Cancel
        </button>
      </div>
    </div>
  );
}

function TriggerOnVersion({ projectId, created }: { projectId: string; created: TCreated }) {
  const pipelines = useQuery({
    queryKey: ["pipelines", projectId],
    queryFn: () => api<{ items: { id: string; name: string; archivedAt?: string | null }[] }>(`/api/v1/projects/${projectId}/pipelines`),
    select: (d) => d.items.filter((p) => !p.archivedAt),
  });
  const [pipelineId, setPipelineId] = useState("");
  const chosen = pipelineId || pipelines.data?.[0]?.id || "";
  const [key] = useState(newIdempotencyKey);
  const trigger = useMutation({
    mutationFn: () =>
      api<{ run: { id: string; number: number } }>(`/api/v1/pipelines/${chosen}/runs`, { method: "POST", headers: { "idempotency-key": `${key}:${chosen}` }, body: { datasetVersionId: created.version.id } }),
  });
  return (
    <div className="alert green stack" role="status" data-testid="feedback-version-created" style={{ gap: 8 }}>
      <div>
        {created.deduplicated ? "The slice has the same content as " : "Created "}
        <Link href={`/datasets/${created.dataset.id}`}>
          {created.dataset.name}@{created.version.version}
        </Link>{" "}
        · {created.version.rowCount} rows{created.skipped ? ` · ${created.skipped} without a target skipped` : ""} · sha256 {created.version.sha256.slice(0, 12)}
      </div>
      {trigger.data ? (
        <div>
          Run <Link href={`/runs/${trigger.data.run.id}`}>#{trigger.data.run.number}</Link> trains on {created.dataset.name}@{created.version.version}.
        </div>
      ) : pipelines.data && pipelines.data.length === 0 ? (
        <div className="muted small">No pipeline in this project to trigger.</div>
      ) : (
        <div className="row" style={{ flexWrap: "wrap" }}>
          <select className="input" aria-label="Pipeline" style={{ width: "auto" }} value={chosen} onChange={(e) => setPipelineId(e.target.value)}>
            {(pipelines.data ?? []).map((p) => (
              <option key={p.id} value={p.id}>
                {p.name}
              </option>
            ))}
          </select>
          <button type="button" className="btn btn-primary btn-sm" disabled={!chosen || trigger.isPending} onClick={() => trigger.mutate()}>
            Trigger pipeline on it
          </button>
        </div>
      )}
      {trigger.error ? (
        <div className="small" role="alert" style={{ color: "var(--red)" }}>
          {errorMessage(trigger.error)}
        </div>
      ) : null}
    </div>
  );
}

export function FeedbackPanel({ deploymentId, projectId, variants, canEdit }: { deploymentId: string; projectId: string; variants: TVariant[]; canEdit: boolean }) {
  const queryClient = useQueryClient();
  const [windowId, setWindowId] = useState<(typeof WINDOWS)[number]["id"]>("7d");
  const [ratings, setRatings] = useState<TRating[]>(["up", "corrected"]);
  const [variantRole, setVariantRole] = useState("");
  const [editing, setEditing] = useState<string | null>(null);
  const [target, setTarget] = useState<"new" | string>("new");
  const [newName, setNewName] = useState("");
  const [format, setFormat] = useState<"chat" | "alpaca">("chat");
  const [created, setCreated] = useState<TCreated | null>(null);
  // The window is fixed when chosen, so the preview and the version cover the same [from, to).
  const [anchor, setAnchor] = useState(() => Date.now());
  const win = WINDOWS.find((w) => w.id === windowId)!;
  const filter = useMemo(
    () => ({ from: win.ms ? new Date(anchor - win.ms).toISOString() : undefined, to: new Date(anchor + 60_000).toISOString(), ratings, variantRole: variantRole || undefined }),
    [anchor, win, ratings, variantRole],
  );
  const queryKey = ["interactions", deploymentId, filter];
  const query = useQuery({
    queryKey,
    queryFn: () => api<TInteractionPage>(`/api/v1/deployments/${deploymentId}/interactions${qs({ from: filter.from, to: filter.to, ratings: ratings.join(","), variantRole: filter.variantRole, limit: 20 })}`),
  });
  const datasets = useQuery({
    queryKey: ["datasets", projectId],
    queryFn: () => api<{ items: { id: string; name: string }[] }>(`/api/v1/projects/${projectId}/datasets`),
    select: (d) => d.items,
  });
  const create = useMutation({
    mutationFn: () =>
      api<TCreated>(`/api/v1/deployments/${deploymentId}/feedback-datasets`, {
        method: "POST",
        body: {
          ...(target === "new" ? { newDatasetName: newName.trim() } : { datasetId: target }),
          filter: { ...(filter.from ? { from: filter.from } : {}), to: filter.to, ratings, ...(filter.variantRole ? { variantRole: filter.variantRole } : {}) },
          format,
        },
      }),
    onSuccess: async (result) => {
      setCreated(result);
      await queryClient.invalidateQueries({ queryKey: ["datasets", projectId] });
    },
  });
  const refresh = () => queryClient.invalidateQueries({ queryKey: ["interactions", deploymentId] });
  const page = query.data;
  const roles = [...new Set(variants.map((v) => v.role))];

  return (
    <div className="card" data-testid="feedback-panel">
      <h2>Feedback</h2>
      {page && !page.capture.enabled ? (
        <p className="muted small">
          Feedback capture is off for this environment: the gateway stores no prompts or responses. An admin can turn it on in <Link href="/settings">Settings → Environments</Link>
          {page.matched ? "; what was stored before stays until its retention ends." : "."}
        </p>
      ) : page ? (
        <p className="muted small">The gateway stores prompt, response and the caller&apos;s thumbs-up/down of unpinned requests here; they are kept {page.capture.retentionDays} days.</p>
      ) : null}
      <div className="row" style={{ flexWrap: "wrap", gap: 12, marginBottom: 8 }}>
        <label className="row small" style={{ gap: 4 }}>
          Window
          <select
            className="input"
            style={{ width: "auto" }}
            value={windowId}
            onChange={(e) => {
              setWindowId(e.target.value as typeof windowId);
              setAnchor(Date.now());
            }}
          >
            {WINDOWS.map((w) => (
              <option key={w.id} value={w.id}>
                {w.label}
              </option>
            ))}
          </select>
        </label>
        {RATINGS.map((r) => (
          <label key={r.id} className="row small" style={{ gap: 4 }}>
            <input type="checkbox" checked={ratings.includes(r.id)} onChange={(e) => setRatings((rs) => (e.target.checked ? [...rs, r.id] : rs.filter((x) => x !== r.id)))} />
            {r.label}
          </label>
        ))}
        <label className="row small" style={{ gap: 4 }}>
          Variant
          <select className="input" style={{ width: "auto" }} value={variantRole} onChange={(e) => setVariantRole(e.target.value)}>
            <option value="">any</option>
            {roles.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </label>
        <button type="button" className="btn btn-sm" onClick={() => setAnchor(Date.now())}>
          Refresh
        </button>
      </div>
      {query.error ? <div role="alert">{errorMessage(query.error)}</div> : null}
      {page ? (
        <>
          <div className="small" data-testid="feedback-counts" style={{ marginBottom: 8 }}>
            <strong>{page.matched}</strong> interactions match · <strong>{page.usable}</strong> usable as training rows (corrected, or rated up)
          </div>
          {page.items.length === 0 ? (
            <Empty title="No stored interactions match">Widen the window or the ratings.</Empty>
          ) : (
            <div className="table-wrap">
              <table className="table">
                <thead>
                  <tr>
                    <th className="hide-sm">When</th>
                    <th>Prompt</th>
                    <th>Answer</th>
                    <th>Feedback</th>
                  </tr>
                </thead>
                <tbody>
                  {page.items.map((i) => (
                    <tr key={i.id} data-testid="interaction-row">
                      <td className="hide-sm small">
                        {formatTime(i.createdAt)}
                        <div className="muted">{i.variantRole}</div>
                      </td>
                      <td style={{ maxWidth: 260, wordBreak: "break-word" }}>{promptText(i)}</td>
                      <td style={{ maxWidth: 320, wordBreak: "break-word" }}>
                        {editing === i.id ? (
                          <CorrectionEditor
                            deploymentId={deploymentId}
                            interaction={i}
                            onDone={() => {
                              setEditing(null);
                              void refresh();
                            }}
                          />
                        ) : (
                          <>
                            <div style={i.correction ? { textDecoration: "line-through", color: "var(--muted)" } : undefined}>{i.response}</div>
                            {i.correction ? <div data-testid="correction">{i.correction}</div> : null}
                            {i.truncated ? <div className="muted small">(truncated)</div> : null}
                          </>
                        )}
                      </td>
                      <td>
                        <div className="row" style={{ gap: 4, flexWrap: "wrap" }}>
                          {i.rating ? <Badge tone={i.rating === "up" ? "green" : "red"}>{i.rating === "up" ? "thumbs up" : "thumbs down"}</Badge> : <span className="muted small">unrated</span>}
                          {i.correction ? <Badge tone="blue">corrected</Badge> : null}
                        </div>
                        {i.comment ? <div className="small muted">“{i.comment}”</div> : null}
                        {canEdit && editing !== i.id ? (
                          <button type="button" className="btn btn-sm" style={{ marginTop: 4 }} onClick={() => setEditing(i.id)}>
                            Correct
                          </button>
                        ) : null}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </>
      ) : null}
      {canEdit ? (
        <div className="stack" style={{ marginTop: 12, gap: 8 }}>
          <h3 style={{ margin: 0 }}>Create dataset version from this slice</h3>
          <p className="muted small" style={{ margin: 0 }}>
            Each usable interaction becomes a row: its prompt → the correction, or the response rated up. Thumbs-down answers without a correction are skipped.
          </p>
          <div className="row" style={{ flexWrap: "wrap", gap: 8 }}>
            <select className="input" aria-label="Dataset" style={{ width: "auto" }} value={target} onChange={(e) => setTarget(e.target.value)}>
              <option value="new">New dataset…</option>
              {(datasets.data ?? []).map((d) => (
                <option key={d.id} value={d.id}>
                  {d.name}
                </option>
              ))}
            </select>
            {target === "new" ? <input className="input" aria-label="New dataset name" placeholder="feedback-dataset" style={{ width: 200 }} value={newName} onChange={(e) => setNewName(e.target.value)} /> : null}
            <select className="input" aria-label="Row format" style={{ width: "auto" }} value={format} onChange={(e) => setFormat(e.target.value as "chat" | "alpaca")}>
              <option value="chat">chat rows</option>
              <option value="alpaca">Alpaca rows</option>
            </select>
            <button
              type="button"
              className="btn btn-primary"
              disabled={create.isPending || !page?.usable || (target === "new" && !newName.trim())}
              onClick={() => {
                setCreated(null);
                create.mutate();
              }}
            >
              Create dataset version
            </button>
          </div>
          {create.error ? (
            <div className="small" role="alert" style={{ color: "var(--red)" }}>
              {errorMessage(create.error)}
            </div>
          ) : null}
          {created ? <TriggerOnVersion projectId={projectId} created={created} /> : null}
        </div>
      ) : null}
    </div>
  );
}
