"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useParams, useRouter } from "next/navigation";
import { useState } from "react";
import { api } from "@/lib/client/api";
import type { TPipeline } from "@/lib/client/types";
import { useProject } from "@/hooks/use-project";
import { ConfirmDialog } from "@/components/confirm-dialog";
import { PipelineEditor } from "@/components/pipeline-editor";
import { RunsTable } from "@/components/runs-table";
import { SpecView } from "@/components/spec-history";
import { SweepForm } from "@/components/sweep-form";
import { SweepsList } from "@/components/sweeps-list";
import { TriggerButton } from "@/components/trigger-button";
import { PageHead, QueryView, Tabs } from "@/components/ui";

export default function PipelinePage() {
  const { pipelineId } = useParams<{ pipelineId: string }>();
  const router = useRouter();
  const queryClient = useQueryClient();
  const { can } = useProject();
  const [tab, setTab] = useState<"runs" | "sweeps" | "spec" | "edit">("runs");
  const [archiving, setArchiving] = useState(false);
  const query = useQuery({ queryKey: ["pipeline", pipelineId], queryFn: () => api<TPipeline>(`/api/v1/pipelines/${pipelineId}`) });
  const archive = useMutation({
    mutationFn: () => api(`/api/v1/pipelines/${pipelineId}`, { method: "DELETE" }),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: ["pipelines"] });
      router.push("/pipelines");
    },
  });

  return (
    <QueryView query={query}>
      {(pipeline) => (
        <>
          <PageHead
            title={pipeline.name}
            crumbs={[{ href: "/pipelines", label: "Pipelines" }]}
            sub={`Spec v${pipeline.specVersion}${pipeline.gitBranches?.length ? ` · triggers on push to ${pipeline.gitBranches.join(", ")}` : ""}`}
            actions={
              can("engineer") ? (
                <>
                  <button type="button" className="btn" onClick={() => setArchiving(true)}>
                    Archive
                  </button>
                  <TriggerButton pipelineId={pipeline.id} />
                </>
              ) : null
            }
          />
          <Tabs
            value={tab}
            onChange={setTab}
            tabs={[
              { id: "runs", label: "Runs" },
              { id: "sweeps", label: "Sweeps" },
              { id: "spec", label: "Spec" },
              ...(can("engineer") ? [{ id: "edit" as const, label: "Edit" }] : []),
            ]}
          />
          {tab === "runs" && <RunsTable pipelineId={pipeline.id} showPipeline={false} />}
          {tab === "sweeps" && (
            <div className="stack">
              {can("engineer") ? <SweepForm pipelineId={pipeline.id} spec={pipeline.spec} /> : null}
              <SweepsList pipelineId={pipeline.id} />
            </div>
          )}
          {tab === "spec" && <SpecView pipeline={pipeline} />}
          {tab === "edit" && <PipelineEditor key={pipeline.specVersion} projectId={pipeline.projectId} pipeline={pipeline} />}
          {archiving && (
            <ConfirmDialog title={`Archive ${pipeline.name}?`} confirmLabel="Archive" danger onConfirm={() => archive.mutateAsync()} onClose={() => setArchiving(false)}>
              Its runs and model versions stay; it can no longer be triggered.
            </ConfirmDialog>
          )}
        </>
      )}
    </QueryView>
  );
}
