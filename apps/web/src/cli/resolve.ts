// Names and slugs wherever the CLI takes an id: a project by id, slug or name; a pipeline by id or name (within the
// given project, or across every project the token sees when none is given). Errors list what does exist.
import { CliError, EXIT, type TApi } from "./api-client.ts";

export type TProject = { id: string; slug: string; name: string; role: string };
export type TPipeline = { id: string; projectId: string; name: string; specVersion: number; spec: unknown; gitBranches: string[]; archivedAt: string | null };

export async function listProjects(call: TApi): Promise<TProject[]> {
  return (await call<{ items: TProject[] }>("GET", "/api/v1/projects")).items;
}

export async function resolveProject(call: TApi, ref: string): Promise<TProject> {
  const projects = await listProjects(call);
  const found = projects.find((p) => p.id === ref) ?? projects.find((p) => p.slug === ref) ?? projects.filter((p) => p.name === ref);
  if (found && !Array.isArray(found)) return found;
  if (Array.isArray(found) && found.length === 1) return found[0]!;
  const known = projects.map((p) => p.slug).join(", ") || "none — ask an admin to add you to one";
  if (Array.isArray(found) && found.length > 1) throw new CliError(`several projects are named "${ref}"; use the slug: ${found.map((p) => p.slug).join(", ")}`, EXIT.usage);
  throw new CliError(`no project "${ref}" (by id, slug or name) among yours: ${known}`, EXIT.usage);
}

export async function listPipelines(call: TApi, projectId: string, includeArchived = false): Promise<TPipeline[]> {
  return (await call<{ items: TPipeline[] }>("GET", `/api/v1/projects/${encodeURIComponent(projectId)}/pipelines?includeArchived=${includeArchived}`)).items;
}

/** A pipeline by id or name; `projectRef` narrows the search (needed when a name exists in several projects). */
export async function resolvePipeline(call: TApi, ref: string, projectRef?: string): Promise<TPipeline> {
  const projects = projectRef ? [await resolveProject(call, projectRef)] : await listProjects(call);
  const matches: TPipeline[] = [];
  const names: string[] = [];
  for (const project of projects) {
    for (const p of await listPipelines(call, project.id)) {
      if (p.id === ref || p.name === ref) matches.push(p);
      names.push(projects.length > 1 ? `${p.name} (${project.slug})` : p.name);
    }
  }
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1) throw new CliError(`pipeline "${ref}" exists in several projects; pass --project <slug>`, EXIT.usage);
  const where = projectRef ? `project ${projectRef}` : "your projects";
  throw new CliError(`no pipeline "${ref}" in ${where}; there are: ${names.join(", ") || "none"}`, EXIT.usage);
}

/** `--param key=value`: numbers and true/false become JSON values, everything else stays a string. */
export function parseParam(raw: string, previous: Record<string, string | number | boolean> = {}): Record<string, string | number | boolean> {
  const eq = raw.indexOf("=");
  if (eq <= 0) throw new CliError(`--param ${raw}: expected key=value (e.g. --param training.learningRate=0.0002)`, EXIT.usage);
  const key = raw.slice(0, eq).trim();
  const text = raw.slice(eq + 1);
  let value: string | number | boolean = text;
  if (text === "true" || text === "false") value = text === "true";
  else if (text.trim() !== "" && Number.isFinite(Number(text))) value = Number(text);
  return { ...previous, [key]: value };
}

/** Deep equality of two JSON values, ignoring object key order (an unchanged spec re-applied). */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((v, i) => sameJson(v, b[i]));
  }
  if (a && b && typeof a === "object" && typeof b === "object") {
    const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
    const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return false;
}
