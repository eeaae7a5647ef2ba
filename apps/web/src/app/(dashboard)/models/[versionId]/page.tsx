"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useParams } from "next/navigation";
import { useState } from "react";
import { api, errorMessage } from "@/lib/client/api";
import { formatTime, shortSha } from "@/lib/client/format";
import type { TArtifact, TEval, TModelVersion } from "@/lib/client/types";
import { useDirectory } from "@/hooks/use-directory";
import { useProject } from "@/hooks/use-project";
import { ConfirmDialog } from "@/components/confirm-dialog";
import { DeployVersionForm } from "@/components/deploy-version-form";
import { LineageGraph, lineageNodes } from "@/components/lineage-graph";
import { EvalTable, GateBanner } from "@/components/run-panels";
import { Badge, Empty, PageHead, QueryView, StatusBadge } from "@/components/ui";

interface TLineageVariant {
  id: string;
  role: string;
  weightBps: number;
  deployment: { id: string; state: string; endpointName: string; environmentId: string };
}

interface TVersionDetail extends TModelVersion {
  projectId: string;
  adapterArtifactId: string | null;
  lineageGraph: { variants?: TLineageVariant[] } & Record<string, unknown>;
}

export default function ModelVersionPage() {
  const { versionId } = useParams<{ versionId: string }>();
  const queryClient = useQueryClient();
  const { can } = useProject();
  const [alias, setAlias] = useState("");
  const [confirmAlias, setConfirmAlias] = useState(false);
  const query = useQuery({ queryKey: ["model-version", versionId], queryFn: () => api<TVersionDetail>(`/api/v1/model-versions/${versionId}`) });
  const runId = query.data?.runId;
  const directory = useDirectory(query.data?.projectId);
  const evaluation = useQuery({ queryKey: ["run-eval", runId], enabled: Boolean(runId), queryFn: () => api<TEval>(`/api/v1/runs/${runId}/eval`) });
  // The adapter's download is offered only when the server says it serves it (a folder on the data volume → .tar.gz).
  const artifacts = useQuery({ queryKey: ["run-artifacts", runId], enabled: Boolean(runId), queryFn: () => api<{ items: TArtifact[] }>(`/api/v1/runs/${runId}/artifacts`), select: (d) => d.items });
  const adapter = artifacts.data?.find((a) => a.id === query.data?.adapterArtifactId && a.downloadable);
  const setAliasMutation = useMutation({
    mutationFn: (name: string) => api(`/api/v1/model-versions/${versionId}/aliases/${encodeURIComponent(name)}`, { method: "PUT", body: {} }),
    onSuccess: async () => {
      setAlias("");
      await queryClient.invalidateQueries({ queryKey: ["model-version", versionId] });
      await queryClient.invalidateQueries({ queryKey: ["models"] });
    },
  });
  const aliasValid = /^[a-z][a-z0-9_-]{0,39}$/.test(alias);

  return (
    <QueryView query={query} rows={6}>
      {(v) => {
        const aliases = v.aliases ?? [];
        const placements = v.lineageGraph.variants ?? [];
        return (
          <>
            <PageHead
              crumbs={[{ href: "/models", label: "Models" }]}
              title={
                <span className="row">
                  {v.modelName} v{v.version} <StatusBadge status={v.status} />
                  {aliases.map((a) => (
                    <Badge key={a} tone="violet">
                      @{a}
                    </Badge>
                  ))}
                </span>
              }
              sub={`Base ${v.baseModel}${v.gitCommit ? ` · commit ${shortSha(v.gitCommit)}` : ""} · registered ${formatTime(v.createdAt)}`}
              actions={
                <>
                  {adapter ? (
                    <a className="btn" href={`/api/v1/artifacts/${adapter.id}/download`} download title="The adapter folder as a .tar.gz; MANIFEST.sha256 inside checks every file">
                      Download adapter{adapter.archive ? " .tar.gz" : ""}
                    </a>
                  ) : null}
                  <Link className="btn" href={`/runs/${v.runId}`}>
                    Open run
                  </Link>
                </>
              }
            />
            <div className="stack">
              <div className="card">
                <h2>Lineage</h2>
                <LineageGraph nodes={lineageNodes(v.lineageGraph)} />
              </div>
              <div className="grid grid-2">
                <div className="card">
                  <h2>Evaluation</h2>
                  <QueryView query={evaluation} isEmpty={(d) => !d.results.length} empty={<Empty title="No evaluation results" />}>
                    {(e) => (
                      <div className="stack">
                        <GateBanner gate={e.gate} />
                        <EvalTable results={e.results} compact />
                      </div>
                    )}
                  </QueryView>
                </div>
                <div className="stack">
                  <div className="card">
                    <h2>Aliases</h2>
                    {can("engineer") ? (
                      <form
                        className="row"
                        onSubmit={(e) => {
                          e.preventDefault();
                          if (aliasValid) setConfirmAlias(true);
                        }}
                      >
                        <label htmlFor="alias" className="small">
                          Point alias
                        </label>
                        <input id="alias" className="input" style={{ width: 160 }} value={alias} placeholder="champion" onChange={(e) => setAlias(e.target.value.trim())} aria-invalid={alias !== "" && !aliasValid} />
                        <button type="submit" className="btn btn-sm" disabled={!aliasValid}>
                          Set
                        </button>
                        {alias && !aliasValid ? <span className="small" style={{ color: "var(--red)" }}>lowercase letters, digits, - and _; starts with a letter</span> : null}
                      </form>
                    ) : null}
                    <p className="muted small">An alias names exactly one version of {v.modelName}; setting it here moves it from the version that held it.</p>
                  </div>
                  <div className="card">
                    <h2>Deployments</h2>
                    {placements.length ? (
                      <ul style={{ margin: 0, paddingLeft: 18 }}>
                        {placements.map((p) => (
                          <li key={p.id}>
                            <Link href={`/deployments/${p.deployment.id}`}>
                              {directory.environmentName(p.deployment.environmentId) ?? "environment"} / {p.deployment.endpointName}
                            </Link>{" "}
                            <StatusBadge status={p.deployment.state} /> <span className="muted small">as {p.role}</span>
                          </li>
                        ))}
                      </ul>
                    ) : (
                      <Empty title="Not deployed" />
                    )}
                    {can("engineer") ? (
                      <details style={{ marginTop: 8 }}>
                        <summary>Deploy this version</summary>
                        <div style={{ marginTop: 8 }}>
                          <DeployVersionForm projectId={v.projectId} modelVersionId={v.id} label={`${v.modelName} v${v.version}`} defaultEndpoint={v.modelName} />
                        </div>
                      </details>
                    ) : null}
                  </div>
                </div>
              </div>
            </div>
            {confirmAlias && (
              <ConfirmDialog title={`Point @${alias} at ${v.modelName} v${v.version}?`} confirmLabel="Set alias" onConfirm={() => setAliasMutation.mutateAsync(alias)} onClose={() => setConfirmAlias(false)}>
                Clients resolving @{alias} get this version from now on.
                {setAliasMutation.error ? <div className="alert red">{errorMessage(setAliasMutation.error)}</div> : null}
              </ConfirmDialog>
            )}
          </>
        );
      }}
    </QueryView>
  );
}
