"use client";
import { useProject } from "@/hooks/use-project";
import { PipelineEditor } from "@/components/pipeline-editor";
import { Empty, Loading, PageHead } from "@/components/ui";

export default function NewPipelinePage() {
  const { projectId, isLoading, can } = useProject();
  return (
    <>
      <PageHead title="New pipeline" crumbs={[{ href: "/pipelines", label: "Pipelines" }]} sub="Fill in the form or paste a spec; both stay in sync and are validated as you type." />
      {isLoading ? <Loading /> : !projectId ? <Empty title="No project selected" /> : !can("engineer") ? <Empty title="Engineers create pipelines">Your role in this project is read-only.</Empty> : <PipelineEditor projectId={projectId} />}
    </>
  );
}
