"use client";
import { useQuery } from "@tanstack/react-query";
import { api } from "@/lib/client/api";
import type { TRelease } from "@/lib/client/types";
import { useProject } from "@/hooks/use-project";
import { ReleaseMatrix } from "@/components/release-matrix";
import { Empty, PageHead, QueryView } from "@/components/ui";

export default function ReleasesPage() {
  const { projectId } = useProject();
  const query = useQuery({
    queryKey: ["releases", projectId],
    enabled: Boolean(projectId),
    queryFn: async () => ({ items: (await api<{ items: TRelease[] }>(`/api/v1/projects/${projectId}/releases`)).items, fetchedAt: Date.now() }),
    refetchInterval: 5000,
  });
  return (
    <>
      <PageHead title="Releases" sub="Each model version through the environments: what serves where, what each stage waits for, and what you can do next." />
      {!projectId ? (
        <Empty title="No project selected" />
      ) : (
        <QueryView query={query} isEmpty={(d) => d.items.length === 0} empty={<Empty title="No releases yet">A run that passes its gate releases its model version to the pipeline&apos;s environments.</Empty>}>
          {(d) => <ReleaseMatrix releases={d.items} fetchedAt={d.fetchedAt} />}
        </QueryView>
      )}
    </>
  );
}
