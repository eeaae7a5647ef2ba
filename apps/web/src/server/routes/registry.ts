import { findModelVersionDetail, listModelVersionsOfProject, setModelAliasRecord } from "@loraplane/db";
import { findRunsByCommit, getModelVersionLineage, NotFoundError, recordAudit, ValidationError } from "@loraplane/services";
import { z } from "../api/zod.ts";
import { notFound } from "../api/errors.ts";
import { defineRoute } from "../api/route.ts";
import { ZId, ZModelVersion } from "../api/schemas.ts";

const byVersion = { owner: "model_version", param: "id" } as const;

function flatVersion<T extends { aliases: { alias: string }[] }>(v: T) {
  return { ...v, aliases: v.aliases.map((a) => a.alias) };
}

export const listModelsRoute = defineRoute({
  operationId: "listModels",
  method: "get",
  path: "/api/v1/projects/{projectId}/models",
  summary: "Registered models of a project with their versions (newest first) and aliases",
  tags: ["models"],
  auth: { kind: "user", scope: "models:read", role: "viewer", project: { param: "projectId" } },
  params: z.object({ projectId: ZId }),
  response: z.object({ items: z.array(z.object({ name: z.string(), versions: z.array(ZModelVersion) })) }),
  handler: async ({ db, params }) => {
    const byName = new Map<string, ReturnType<typeof flatVersion>[]>();
    for (const v of await listModelVersionsOfProject(db, params.projectId)) {
      byName.set(v.modelName, [...(byName.get(v.modelName) ?? []), flatVersion(v)]);
    }
    return { items: [...byName].map(([name, versions]) => ({ name, versions })) };
  },
});

export const getModelVersionRoute = defineRoute({
  operationId: "getModelVersion",
  method: "get",
  path: "/api/v1/model-versions/{id}",
  summary: "A model version with its lineage, eval results and deployments",
  tags: ["models"],
  auth: { kind: "user", scope: "models:read", role: "viewer", project: byVersion },
  params: z.object({ id: ZId }),
  response: ZModelVersion.extend({ lineage: z.unknown(), run: z.unknown(), variants: z.array(z.unknown()), lineageGraph: z.unknown() }),
  handler: async ({ db, params }) => {
    const v = await findModelVersionDetail(db, params.id);
    if (!v) throw notFound(`model version ${params.id}`);
    return { ...flatVersion(v), lineageGraph: await getModelVersionLineage(db, v.id) };
  },
});

export const setAliasRoute = defineRoute({
  operationId: "setModelAlias",
  method: "put",
  path: "/api/v1/model-versions/{id}/aliases/{alias}",
  summary: "Point an alias (champion, staging …) of the model at this version",
  tags: ["models"],
  auth: { kind: "user", scope: "models:write", role: "engineer", project: byVersion },
  params: z.object({ id: ZId, alias: z.string().min(1).max(63).regex(/^[a-z0-9][a-z0-9_-]*$/, "lower-case letters, digits, '_' and '-' only") }),
  body: z.object({}),
  response: z.object({ modelName: z.string(), alias: z.string(), modelVersionId: z.string() }),
  handler: async ({ db, params, actor, meta }) => {
    const v = await findModelVersionDetail(db, params.id);
    if (!v) throw new NotFoundError(`model version ${params.id} not found`);
    await db.$transaction(async (tx) => {
      await setModelAliasRecord(tx, v, params.alias);
      await recordAudit(tx, actor, { projectId: v.projectId, action: "model.alias.set", subjectType: "model_version", subjectId: v.id, after: { modelName: v.modelName, alias: params.alias, version: v.version } }, meta);
    });
    return { modelName: v.modelName, alias: params.alias, modelVersionId: v.id };
  },
});

export const compareVersionsRoute = defineRoute({
  operationId: "compareModelVersions",
  method: "get",
  path: "/api/v1/model-versions/compare",
  summary: "Two versions' eval metrics side by side (both must be in projects you can read)",
  tags: ["models"],
  auth: { kind: "user", scope: "models:read" },
  query: z.object({ a: ZId, b: ZId }),
  response: z.object({
    a: ZModelVersion,
    b: ZModelVersion,
    metrics: z.array(z.object({ metric: z.string(), a: z.number().nullable(), b: z.number().nullable(), delta: z.number().nullable() })),
  }),
  handler: async ({ db, query, visibleProjectIds }) => {
    const visible = new Set(await visibleProjectIds("viewer"));
    const [a, b] = await Promise.all([findModelVersionDetail(db, query.a), findModelVersionDetail(db, query.b)]);
    if (!a || !visible.has(a.projectId)) throw notFound(`model version ${query.a}`);
    if (!b || !visible.has(b.projectId)) throw notFound(`model version ${query.b}`);
    if (a.modelName !== b.modelName && a.projectId !== b.projectId) throw new ValidationError("versions of different projects and models", [{ path: "query.b", message: "not comparable with a" }]);
    const ma = new Map(a.run.evalResults.map((r) => [r.metric, r.value]));
    const mb = new Map(b.run.evalResults.map((r) => [r.metric, r.value]));
    const metrics = [...new Set([...ma.keys(), ...mb.keys()])].sort().map((metric) => {
      const va = ma.get(metric) ?? null;
      const vb = mb.get(metric) ?? null;
      return { metric, a: va, b: vb, delta: va !== null && vb !== null ? vb - va : null };
    });
    return { a: flatVersion(a), b: flatVersion(b), metrics };
  },
});

export const projectLineageRoute = defineRoute({
  operationId: "getProjectLineageByCommit",
  method: "get",
  path: "/api/v1/projects/{projectId}/lineage",
  summary: "Runs and model versions built from a git commit",
  tags: ["models"],
  auth: { kind: "user", scope: "models:read", role: "viewer", project: { param: "projectId" } },
  params: z.object({ projectId: ZId }),
  query: z.object({ commit: z.string().regex(/^[0-9a-fA-F]{4,64}$/, "must be a (prefix of a) hex commit SHA") }),
  response: z.object({ commit: z.string(), runs: z.array(z.unknown()) }),
  handler: async ({ db, params, query }) => ({ commit: query.commit, runs: await findRunsByCommit(db, params.projectId, query.commit) }),
});
