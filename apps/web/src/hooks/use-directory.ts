"use client";
import { useQuery } from "@tanstack/react-query";
import { api } from "@/lib/client/api";
import type { TEnvironment, TRole } from "@/lib/client/types";

interface TMember {
  userId: string;
  email: string;
  name: string | null;
  role: TRole;
}

/** Names for the ids the API returns (requestedById, actorId, environmentId), from lists every member may read. */
export function useDirectory(projectId: string | undefined) {
  const members = useQuery({
    queryKey: ["members", projectId],
    enabled: Boolean(projectId),
    queryFn: () => api<{ items: TMember[] }>(`/api/v1/projects/${projectId}/members`),
    select: (d) => d.items,
    staleTime: 60_000,
  });
  const environments = useQuery({
    queryKey: ["environments", projectId],
    enabled: Boolean(projectId),
    queryFn: () => api<{ items: TEnvironment[] }>(`/api/v1/projects/${projectId}/environments`),
    select: (d) => d.items,
    staleTime: 60_000,
  });
  return {
    members: members.data ?? [],
    userName(id: string | null | undefined): string | undefined {
      if (!id) return undefined;
      const m = members.data?.find((x) => x.userId === id);
      return m ? m.name || m.email : undefined;
    },
    environmentName(id: string | null | undefined): string | undefined {
      return environments.data?.find((e) => e.id === id)?.name;
    },
  };
}
