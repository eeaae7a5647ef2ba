"use client";
// The dataset page's parts: upload form, token-length histogram, paged row preview and per-version lineage.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useId, useState } from "react";
import { api, qs, toApiError } from "@/lib/client/api";
import { formatBytes, formatRelative } from "@/lib/client/format";
import { DataTable } from "@/components/data-table";
import { Empty, QueryView, StatusBadge } from "@/components/ui";

export type THistogram = { edges: number[]; counts: number[]; min: number; max: number; mean: number; p50: number; p95: number };
export type TSplitStats = { rows: number; bytes: number; sha256: string; format: "alpaca" | "chat"; tokens: THistogram };
export type TDatasetVersion = {
  id: string;
  version: string;
  uri: string;
  sha256: string;
  rowCount: number;
  sizeBytes: number | null;
  format: "alpaca" | "chat";
  splits: Record<string, { rows: number; sha256?: string }>;
  stats: { tokenizer: string; splits: Record<string, TSplitStats> } | null;
  createdAt: string;
  runs: { id: string; number: number; status: string; pipelineId: string; pipelineName: string; createdAt: string }[];
  modelVersions: { id: string; modelName: string; version: number; status: string; runId: string; createdAt: string }[];
};
export type TDatasetPage = { dataset: { id: string; projectId: string; name: string; description: string | null; createdAt: string }; versions: TDatasetVersion[] };

export const FORMAT_LABEL = { alpaca: "Alpaca (instruction / input / output)", chat: "Chat (messages with roles)" } as const;

/** train, validation, test first (the digest's order), then the others by name; jsonb does not keep key order. */
export function orderedSplits(names: string[]): string[] {
  const rank = (s: string) => ["train", "validation", "test"].indexOf(s) >>> 0;
  return [...names].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/** Multipart upload of `<split>.jsonl` files; resolves to the version the server made (or already had). */
export async function uploadFiles(datasetId: string, files: File[]): Promise<{ version: TDatasetVersion; deduplicated: boolean }> {
  const form = new FormData();
  for (const f of files) form.append("files", f, f.name);
  let response: Response;
  try {
    response = await fetch(`/api/v1/datasets/${datasetId}/versions/upload`, { method: "POST", body: form, credentials: "same-origin", cache: "no-store" });
  } catch {
    throw new Error("Cannot reach the server. Check your connection and try again.");
  }
  const text = await response.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (!response.ok) throw toApiError(response.status, body, `${response.status} upload failed`);
  return body as { version: TDatasetVersion; deduplicated: boolean };
}

export function FilePicker({ files, onChange }: { files: File[]; onChange: (files: File[]) => void }) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>Split files</label>
      <input id={id} type="file" accept=".jsonl" multiple className="input" style={{ height: "auto", padding: 4 }} onChange={(e) => onChange(Array.from(e.target.files ?? []))} />
      <span className="hint">
        {files.length ? files.map((f) => `${f.name} (${formatBytes(f.size)})`).join(", ") : "One .jsonl file per split: train.jsonl, validation.jsonl, … — the file name names the split."}
      </span>
    </div>
  );
}

export function UploadVersionForm({ datasetId, onDone }: { datasetId: string; onDone: (versionId: string) => void }) {
  const qc = useQueryClient();
  const [files, setFiles] = useState<File[]>([]);
  const [note, setNote] = useState<string | null>(null);
  const upload = useMutation({
    mutationFn: () => uploadFiles(datasetId, files),
    onSuccess: (r) => {
      setNote(r.deduplicated ? `Identical to ${r.version.version}: nothing new was stored.` : `Uploaded ${r.version.version}.`);
      void qc.invalidateQueries({ queryKey: ["dataset", datasetId] });
      onDone(r.version.id);
    },
  });
  return (
    <form
      className="stack"
      aria-label="Upload a new version"
      onSubmit={(e) => {
        e.preventDefault();
        setNote(null);
        upload.mutate();
      }}
    >
      <FilePicker files={files} onChange={setFiles} />
      {upload.error ? (
        <div className="alert red" role="alert" style={{ overflowWrap: "anywhere" }}>
          {upload.error.message}
        </div>
      ) : note ? (
        <div className="alert green" role="status">
          {note}
        </div>
      ) : null}
      <div className="row">
        <button type="submit" className="btn btn-primary" disabled={files.length === 0 || upload.isPending}>
          {upload.isPending ? "Uploading…" : "Upload new version"}
        </button>
        <span className="muted small">Every line is checked; a malformed line names its file and line, and nothing is stored.</span>
      </div>
    </form>
  );
}

export function TokenHistogram({ split, stats, label }: { split: string; stats: TSplitStats; label: string }) {
  const h = stats.tokens;
  const max = Math.max(1, ...h.counts);
  const W = 560;
  const H = 140;
  const bw = W / Math.max(1, h.counts.length);
  return (
    <figure style={{ margin: 0 }} aria-label={`${split}: ${label} histogram`}>
      <svg viewBox={`0 0 ${W} ${H}`} width="100%" height={H} preserveAspectRatio="none" role="img" aria-label={`${split} ${label}: p50 ${h.p50}, p95 ${h.p95}, max ${h.max}`}>
        {h.counts.map((c, i) => {
          const bh = (c / max) * H;
          return (
            <rect key={i} x={i * bw + 1} y={H - bh} width={Math.max(1, bw - 2)} height={bh} fill="var(--accent)" opacity={0.8}>
              <title>{`${h.edges[i]}–${h.edges[i + 1]! - 1}: ${c} rows`}</title>
            </rect>
          );
        })}
        <line x1={0} x2={W} y1={H} y2={H} stroke="var(--border-strong)" vectorEffect="non-scaling-stroke" />
      </svg>
      <div className="row muted small" style={{ justifyContent: "space-between" }}>
        <span>{h.edges[0] ?? 0}</span>
        <span>{h.edges[h.edges.length - 1] ?? 0}</span>
      </div>
      <figcaption className="muted small">
        {label} per row — p50 {h.p50}, p95 {h.p95}, max {h.max}, mean {h.mean}
      </figcaption>
    </figure>
  );
}

type TRowsPage = { split: string; offset: number; limit: number; total: number | null; hasMore: boolean; rows: { line: number; row: Record<string, unknown> }[] };
const PAGE = 10;

function cell(v: unknown) {
  return <div className="clamp-3" style={{ whiteSpace: "pre-wrap", overflowWrap: "anywhere" }}>{typeof v === "string" ? v : v == null ? "" : JSON.stringify(v)}</div>;
}

export function RowPreview({ datasetId, version, split }: { datasetId: string; version: TDatasetVersion; split: string }) {
  const [offset, setOffset] = useState(0);
  const query = useQuery({
    queryKey: ["dataset-rows", version.id, split, offset],
    queryFn: () => api<TRowsPage>(`/api/v1/datasets/${datasetId}/versions/${version.id}/rows${qs({ split, offset, limit: PAGE })}`),
    placeholderData: (prev) => prev,
  });
  const chat = version.format === "chat";
  const total = query.data?.total ?? version.splits[split]?.rows ?? null;
  return (
    <div className="stack" style={{ gap: 8 }}>
      <QueryView query={query} isEmpty={(d) => d.rows.length === 0} empty={<Empty title="No rows on this page" />}>
        {(page) => (
          <DataTable columns={chat ? [{ label: "Line", style: { width: 56 } }, "Messages"] : [{ label: "Line", style: { width: 56 } }, "Instruction", { label: "Input", className: "hide-sm" }, "Output"]}>
            {page.rows.map((r) => (
              <tr key={r.line}>
                <td className="mono small">{r.line}</td>
                {chat ? (
                  <td>
                    {(Array.isArray(r.row.messages) ? (r.row.messages as { role?: string; content?: string }[]) : []).map((m, i) => (
                      <div key={i} className="small" style={{ overflowWrap: "anywhere" }}>
                        <strong>{m.role}:</strong> {String(m.content ?? "").slice(0, 400)}
                      </div>
                    ))}
                  </td>
                ) : (
                  <>
                    <td>{cell(r.row.instruction)}</td>
                    <td className="hide-sm">{cell(r.row.input)}</td>
                    <td>{cell(r.row.output)}</td>
                  </>
                )}
              </tr>
            ))}
          </DataTable>
        )}
      </QueryView>
      <div className="row" style={{ justifyContent: "space-between" }}>
        <span className="muted small" data-testid="preview-range">
          {/* From the page shown (the previous one stays up while the next loads), not from the requested offset. */}
          Rows {(query.data?.offset ?? 0) + 1}–{(query.data?.offset ?? 0) + (query.data?.rows.length ?? 0)}
          {total != null ? ` of ${total}` : ""}
        </span>
        <span className="row">
          <button type="button" className="btn btn-sm" disabled={offset === 0 || query.isFetching} onClick={() => setOffset(Math.max(0, offset - PAGE))}>
            Previous
          </button>
          <button type="button" className="btn btn-sm" disabled={!query.data?.hasMore || query.isFetching} onClick={() => setOffset(offset + PAGE)}>
            Next
          </button>
        </span>
      </div>
    </div>
  );
}

export function VersionLineage({ version }: { version: TDatasetVersion }) {
  if (version.runs.length === 0 && version.modelVersions.length === 0) return <p className="muted small">No run has used this version yet.</p>;
  return (
    <div className="grid grid-2">
      <div>
        <h3 className="small muted">Runs</h3>
        <ul className="stack" style={{ gap: 4, paddingLeft: 16, margin: 0 }}>
          {version.runs.map((r) => (
            <li key={r.id}>
              <Link href={`/runs/${r.id}`}>
                {r.pipelineName} #{r.number}
              </Link>{" "}
              <StatusBadge status={r.status} /> <span className="muted small">{formatRelative(r.createdAt)}</span>
            </li>
          ))}
        </ul>
      </div>
      <div>
        <h3 className="small muted">Model versions</h3>
        {version.modelVersions.length === 0 ? (
          <p className="muted small">None registered from this version.</p>
        ) : (
          <ul className="stack" style={{ gap: 4, paddingLeft: 16, margin: 0 }}>
            {version.modelVersions.map((m) => (
              <li key={m.id}>
                <Link href={`/models/${m.id}`}>
                  {m.modelName} v{m.version}
                </Link>{" "}
                <StatusBadge status={m.status} />
              </li>
            ))}
          </ul>
        )}
      </div>
    </div>
  );
}
