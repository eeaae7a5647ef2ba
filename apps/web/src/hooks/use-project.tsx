"use client";
import { useQuery } from "@tanstack/react-query";
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { api } from "@/lib/client/api";
import { ROLE_RANK, type TMe, type TProject, type TRole } from "@/lib/client/types";

interface TProjectContext {
  me: TMe | undefined;
  projects: TProject[];
  project: TProject | undefined;
  projectId: string | undefined;
  setProjectId(id: string): void;
  role: TRole | undefined;
  /** Whether the signed-in user holds at least `role` in the selected project (admins everywhere). */
  can(role: TRole): boolean;
  isLoading: boolean;
  error: unknown;
}

const ProjectContext = createContext<TProjectContext | null>(null);
const STORAGE_KEY = "loraplane.projectId";

export function ProjectProvider({ children }: { children: ReactNode }) {
  const meQuery = useQuery({ queryKey: ["me"], queryFn: () => api<TMe>("/api/v1/me"), staleTime: 60_000 });
  const projectsQuery = useQuery({
    queryKey: ["projects"],
    queryFn: () => api<{ items: TProject[] }>("/api/v1/projects"),
    select: (data) => data.items,
  });
  const [chosen, setChosen] = useState<string | undefined>(undefined);

  useEffect(() => {
    setChosen(window.localStorage.getItem(STORAGE_KEY) ?? undefined);
  }, []);

  const projects = useMemo(() => projectsQuery.data ?? [], [projectsQuery.data]);
  const project = projects.find((p) => p.id === chosen) ?? projects[0];
  const setProjectId = useCallback((id: string) => {
    window.localStorage.setItem(STORAGE_KEY, id);
    setChosen(id);
  }, []);

  const me = meQuery.data;
  const globalRole = me?.user.role;
  const projectRole = me?.projects.find((p) => p.projectId === project?.id)?.role;
  const role: TRole | undefined = globalRole === "admin" ? "admin" : projectRole ?? globalRole;
  // Outside a project only a global admin may act: a global role alone offers nothing to do ("New pipeline" with no
  // project to put it in).
  const can = useCallback((needed: TRole) => (role && (project || globalRole === "admin") ? ROLE_RANK[role] >= ROLE_RANK[needed] : false), [role, project, globalRole]);

  const value: TProjectContext = {
    me,
    projects,
    project,
    projectId: project?.id,
    setProjectId,
    role,
    can,
    isLoading: meQuery.isLoading || projectsQuery.isLoading,
    error: meQuery.error ?? projectsQuery.error,
  };
  return <ProjectContext.Provider value={value}>{children}</ProjectContext.Provider>;
}

export function useProject(): TProjectContext {
  const value = useContext(ProjectContext);
  if (!value) throw new Error("useProject outside ProjectProvider");
  return value;
}
