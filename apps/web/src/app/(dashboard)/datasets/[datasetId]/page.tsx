"use client";
import { useQuery } from "@tanstack/react-query";
import { useParams } from "next/navigation";
import { useState } from "react";
import { api } from "@/lib/client/api";
import { formatBytes, formatRelative, shortSha } from "@/lib/client/format";
import { useProject } from "@/hooks/use-project";
import { DataTable } from "@/components/data-table";
import { FORMAT_LABEL, orderedSplits, RowPreview, TokenHistogram, type TDatasetPage, type TDatasetVersion, UploadVersionForm, VersionLineage } from "@/components/dataset-panels";
import { Badge, Empty, PageHead, QueryView, Tabs } from "@/components/ui";

function VersionView({ datasetId, version }: { datasetId: string; version: TDatasetVersion }) {
  const splits = orderedSplits(Object.keys(version.splits));
  const [split, setSplit] = useState(splits[0] ?? "train");
  const stats = version.stats;
  const label = stats?.tokenizer ?? "approx. tokens";
  return (
    <div className="stack">
      <section className="card" aria-label={`Version ${version.version}`}>
        <div className="card-head">
          <h2>
            {version.version} <Badge tone="violet">{version.format}</Badge>
          </h2>
          <span className="muted small">{formatRelative(version.createdAt)}</span>
        </div>
        <dl className="kv">
          <dt>Format</dt>
          <dd>{FORMAT_LABEL[version.format]}</dd>
          <dt>Rows</dt>
          <dd>{version.rowCount.toLocaleString("en-US")}</dd>
          <dt>Size</dt>
          <dd>{formatBytes(version.sizeBytes)}</dd>
          <dt>sha256</dt>
          <dd className="mono small" title={version.sha256}>
            {version.sha256}
          </dd>
          <dt>Stored at</dt>
          <dd className="mono small">{version.uri}</dd>
        </dl>
      </section>
      <section className="card" aria-label="Splits">
        <div className="card-head">
          <h2>Splits</h2>
          <span className="muted small">{stats ? "computed at upload" : "registered by URI: no statistics"}</span>
        </div>
        <DataTable columns={["Split", "Rows", { label: "Size", className: "hide-sm" }, "p50", "p95", { label: "max", className: "hide-sm" }]}>
          {splits.map((s) => {
            const st = stats?.splits[s];
            return (
              <tr key={s}>
                <td>{s}</td>
                <td>{version.splits[s]?.rows?.toLocaleString("en-US") ?? "–"}</td>
                <td className="hide-sm">{st ? formatBytes(st.bytes) : "–"}</td>
                <td>{st?.tokens.p50 ?? "–"}</td>
                <td>{st?.tokens.p95 ?? "–"}</td>
                <td className="hide-sm">{st?.tokens.max ?? "–"}</td>
              </tr>
            );
          })}
        </DataTable>
        <p className="muted small" style={{ marginBottom: 0 }}>
          Lengths are {label} — an estimate, not the base model&apos;s tokenizer.
        </p>
      </section>
      <section className="card" aria-label="Rows">
        <div className="card-head">
          <h2>Rows</h2>
          {splits.length > 1 && <Tabs tabs={splits.map((s) => ({ id: s, label: s }))} value={split} onChange={setSplit} />}
        </div>
        {stats?.splits[split] ? <TokenHistogram split={split} stats={stats.splits[split]} label={label} /> : null}
        <RowPreview key={`${version.id}/${split}`} datasetId={datasetId} version={version} split={split} />
      </section>
      <section className="card" aria-label="Used by">
        <div className="card-head">
          <h2>Used by</h2>
          <span className="muted small">runs trained on {version.version} and the model versions they registered</span>
        </div>
        <VersionLineage version={version} />
      </section>
    </div>
  );
}

export default function DatasetPage() {
  const { datasetId } = useParams<{ datasetId: string }>();
  const { can } = useProject();
  const [picked, setPicked] = useState<string | null>(null);
  const [uploading, setUploading] = useState(false);
  const query = useQuery({ queryKey: ["dataset", datasetId], queryFn: () => api<TDatasetPage>(`/api/v1/datasets/${datasetId}`) });
  return (
    <QueryView query={query}>
      {({ dataset, versions }) => {
        const current = versions.find((v) => v.id === picked) ?? versions[0];
        return (
          <>
            <PageHead
              crumbs={[{ href: "/datasets", label: "Datasets" }]}
              title={dataset.name}
              sub={dataset.description ?? `${versions.length} version(s)`}
              actions={
                can("engineer") && !uploading ? (
                  <button type="button" className="btn btn-primary" onClick={() => setUploading(true)}>
                    Upload new version
                  </button>
                ) : null
              }
            />
            <div className="stack">
              {uploading && (
                <section className="card" aria-label="Upload">
                  <UploadVersionForm datasetId={dataset.id} onDone={(id) => setPicked(id)} />
                </section>
              )}
              {versions.length === 0 ? (
                <Empty title="No versions yet">Upload split files, or push a folder: <code>loraplane dataset push ./data --name {dataset.name}</code></Empty>
              ) : (
                <>
                  <DataTable columns={["Version", "Rows", "Format", { label: "sha256", className: "hide-sm" }, "Runs", { label: "Created", className: "hide-sm" }]}>
                    {versions.map((v) => (
                      <tr key={v.id} aria-selected={v.id === current?.id} style={v.id === current?.id ? { background: "var(--accent-bg, #eef2ff)" } : undefined}>
                        <td>
                          <button type="button" className="btn btn-ghost btn-sm" aria-pressed={v.id === current?.id} onClick={() => setPicked(v.id)}>
                            {v.version}
                          </button>
                        </td>
                        <td>{v.rowCount.toLocaleString("en-US")}</td>
                        <td>{v.format}</td>
                        <td className="hide-sm mono">{shortSha(v.sha256)}</td>
                        <td>{v.runs.length}</td>
                        <td className="hide-sm">{formatRelative(v.createdAt)}</td>
                      </tr>
                    ))}
                  </DataTable>
                  {current && <VersionView key={current.id} datasetId={dataset.id} version={current} />}
                </>
              )}
            </div>
          </>
        );
      }}
    </QueryView>
  );
}
