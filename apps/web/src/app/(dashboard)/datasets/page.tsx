"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { api, errorMessage } from "@/lib/client/api";
import { formatRelative } from "@/lib/client/format";
import { useProject } from "@/hooks/use-project";
import { DataTable } from "@/components/data-table";
import { FilePicker, uploadFiles } from "@/components/dataset-panels";
import { TextField } from "@/components/fields";
import { Empty, PageHead, QueryView } from "@/components/ui";

type TDatasetItem = { id: string; name: string; description: string | null; createdAt: string; versionCount: number };

function NewDatasetForm({ projectId, onCancel }: { projectId: string; onCancel: () => void }) {
  const router = useRouter();
  const qc = useQueryClient();
  const [name, setName] = useState<string | undefined>();
  const [description, setDescription] = useState<string | undefined>();
  const [files, setFiles] = useState<File[]>([]);
  const [createdId, setCreatedId] = useState<string | null>(null);
  const create = useMutation({
    mutationFn: async () => {
      // A failed upload after a successful create retries the upload only, into the dataset already made.
      const id = createdId ?? (await api<{ id: string }>(`/api/v1/projects/${projectId}/datasets`, { method: "POST", body: { name, ...(description ? { description } : {}) } })).id;
      setCreatedId(id);
      if (files.length) await uploadFiles(id, files);
      return id;
    },
    onSuccess: (id) => {
      void qc.invalidateQueries({ queryKey: ["datasets", projectId] });
      router.push(`/datasets/${id}`);
    },
  });
  const nameIssue = create.error && "issues" in create.error ? (create.error as { issues: { path: string; message: string }[] }).issues.find((i) => i.path === "name") : undefined;
  return (
    <section className="card" aria-label="New dataset">
      <form
        className="stack"
        onSubmit={(e) => {
          e.preventDefault();
          create.mutate();
        }}
      >
        <div className="grid grid-2">
          <TextField label="Name" value={name} onChange={setName} placeholder="support-chats" hint="Letters, digits, '.', '_' and '-'." errors={nameIssue ? [nameIssue.message] : undefined} />
          <TextField label="Description (optional)" value={description} onChange={setDescription} />
        </div>
        <FilePicker files={files} onChange={setFiles} />
        {create.error ? (
          <div className="alert red" role="alert" style={{ overflowWrap: "anywhere" }}>
            {createdId ? "The dataset was created, but the upload failed: " : ""}
            {createdId || nameIssue ? create.error.message : errorMessage(create.error)}
          </div>
        ) : null}
        <div className="row">
          <button type="submit" className="btn btn-primary" disabled={!name || create.isPending}>
            {create.isPending ? "Saving…" : files.length ? "Create and upload v1" : "Create dataset"}
          </button>
          <button type="button" className="btn" onClick={onCancel}>
            Cancel
          </button>
        </div>
      </form>
    </section>
  );
}

export default function DatasetsPage() {
  const { projectId, can } = useProject();
  const [creating, setCreating] = useState(false);
  const query = useQuery({
    queryKey: ["datasets", projectId],
    enabled: Boolean(projectId),
    queryFn: () => api<{ items: TDatasetItem[] }>(`/api/v1/projects/${projectId}/datasets`),
    select: (d) => d.items,
  });
  return (
    <>
      <PageHead
        title="Datasets"
        sub="Immutable, content-addressed versions that pipelines train and evaluate on."
        actions={
          projectId && can("engineer") && !creating ? (
            <button type="button" className="btn btn-primary" onClick={() => setCreating(true)}>
              New dataset
            </button>
          ) : null
        }
      />
      {!projectId ? (
        <Empty title="No project selected" />
      ) : (
        <div className="stack">
          {creating && <NewDatasetForm projectId={projectId} onCancel={() => setCreating(false)} />}
          <QueryView
            query={query}
            isEmpty={(d) => d.length === 0}
            empty={
              <Empty title="No datasets yet">
                Create one here, or from a folder of split files: <code>loraplane dataset push ./data --name my-data</code>
              </Empty>
            }
          >
            {(items) => (
              <DataTable columns={["Name", "Versions", { label: "Description", className: "hide-sm" }, { label: "Created", className: "hide-sm" }]}>
                {items.map((d) => (
                  <tr key={d.id}>
                    <td>
                      <Link href={`/datasets/${d.id}`}>{d.name}</Link>
                    </td>
                    <td>{d.versionCount}</td>
                    <td className="hide-sm muted">{d.description}</td>
                    <td className="hide-sm">{formatRelative(d.createdAt)}</td>
                  </tr>
                ))}
              </DataTable>
            )}
          </QueryView>
        </div>
      )}
    </>
  );
}
