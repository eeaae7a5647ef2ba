import {
  createDataset,
  createDatasetVersion,
  datasetRoots,
  createEnvironment,
  createPipeline,
  createProject,
  getPipeline,
  getProject,
  archivePipeline,
  listDatasets,
  listDatasetVersions,
  listEnvironments,
  listMembers,
  listPipelines,
  listProjects,
  setMembers,
  updateEnvironment,
  updatePipeline,
  validatePipelineSpec,
} from "@loraplane/services";
import { isDeepStrictEqual } from "node:util";
import { listPipelineSpecVersions } from "@loraplane/db";
import { parse as parseYaml } from "yaml";
import { z } from "../api/zod.ts";
import { HttpError } from "../api/errors.ts";
import { defineRoute } from "../api/route.ts";
import { boundedRecord, ZDateTime, ZDataset, ZDatasetVersion, ZEnvironment, ZId, ZIssue, ZPipeline, ZProject, ZRole } from "../api/schemas.ts";

const projectParams = z.object({ projectId: ZId });
const byProject = { param: "projectId" } as const;

export const listProjectsRoute = defineRoute({
  operationId: "listProjects",
  method: "get",
  path: "/api/v1/projects",
  summary: "Projects the caller belongs to, with the caller's role",
  tags: ["projects"],
  auth: { kind: "user", scope: "runs:read" },
  response: z.object({ items: z.array(ZProject.extend({ role: ZRole })) }),
  handler: async ({ db, principal }) => {
    const all = await listProjects(db, { id: principal.userId, globalRole: principal.globalRole });
    return { items: principal.tokenProjectId ? all.filter((p) => p.id === principal.tokenProjectId) : all };
  },
});

export const createProjectRoute = defineRoute({
  operationId: "createProject",
  method: "post",
  path: "/api/v1/projects",
  summary: "Create a project; the creator becomes its admin",
  tags: ["projects"],
  auth: { kind: "user", scope: "admin", globalRole: "engineer" },
  body: z.object({
    slug: z.string().min(2).max(64).regex(/^[a-z0-9][a-z0-9-]*$/, "lower-case letters, digits and '-' only"),
    name: z.string().min(1).max(200),
    description: z.string().max(2000).nullish(),
  }),
  response: ZProject,
  status: 201,
  handler: ({ db, body, actor, meta }) => createProject(db, body, actor, meta),
});

export const getProjectRoute = defineRoute({
  operationId: "getProject",
  method: "get",
  path: "/api/v1/projects/{projectId}",
  summary: "One project",
  tags: ["projects"],
  auth: { kind: "user", scope: "runs:read", role: "viewer", project: byProject },
  params: projectParams,
  response: ZProject,
  handler: ({ db, params }) => getProject(db, params.projectId),
});

const ZMember = z.object({ userId: z.string(), email: z.string(), name: z.string().nullable(), role: ZRole, createdAt: z.string() });

export const listMembersRoute = defineRoute({
  operationId: "listMembers",
  method: "get",
  path: "/api/v1/projects/{projectId}/members",
  summary: "Members of a project and their roles",
  tags: ["projects"],
  auth: { kind: "user", scope: "runs:read", role: "viewer", project: byProject },
  params: projectParams,
  response: z.object({ items: z.array(ZMember) }),
  handler: async ({ db, params }) => ({ items: await listMembers(db, params.projectId) }),
});

export const setMembersRoute = defineRoute({
  operationId: "setMembers",
  method: "put",
  path: "/api/v1/projects/{projectId}/members",
  summary: "Replace the member list (at least one admin)",
  tags: ["projects"],
  auth: { kind: "user", scope: "admin", role: "admin", project: byProject },
  params: projectParams,
  body: z.object({ members: z.array(z.strictObject({ userId: ZId, role: ZRole })).max(1000) }),
  response: z.object({ items: z.array(ZMember) }),
  handler: async ({ db, params, body, actor, meta }) => ({ items: await setMembers(db, params.projectId, body.members, actor, meta) }),
});

export const listDatasetsRoute = defineRoute({
  operationId: "listDatasets",
  method: "get",
  path: "/api/v1/projects/{projectId}/datasets",
  summary: "Datasets of a project",
  tags: ["datasets"],
  auth: { kind: "user", scope: "runs:read", role: "viewer", project: byProject },
  params: projectParams,
  response: z.object({ items: z.array(ZDataset.extend({ versionCount: z.number() })) }),
  handler: async ({ db, params }) => ({ items: await listDatasets(db, params.projectId) }),
});

const ZName = z.string().min(1).max(100).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "letters, digits, '.', '_' and '-' only");

export const createDatasetRoute = defineRoute({
  operationId: "createDataset",
  method: "post",
  path: "/api/v1/projects/{projectId}/datasets",
  summary: "Create a dataset",
  tags: ["datasets"],
  auth: { kind: "user", scope: "runs:write", role: "engineer", project: byProject },
  params: projectParams,
  body: z.object({ name: ZName, description: z.string().max(2000).nullish() }),
  response: ZDataset,
  status: 201,
  handler: ({ db, params, body, actor, meta }) => createDataset(db, params.projectId, body, actor, meta),
});

const datasetParams = z.object({ datasetId: ZId });
const byDataset = { owner: "dataset", param: "datasetId" } as const;

export const listDatasetVersionsRoute = defineRoute({
  operationId: "listDatasetVersions",
  method: "get",
  path: "/api/v1/datasets/{datasetId}/versions",
  summary: "Versions of a dataset, newest first",
  tags: ["datasets"],
  auth: { kind: "user", scope: "runs:read", role: "viewer", project: byDataset },
  params: datasetParams,
  response: z.object({ items: z.array(ZDatasetVersion) }),
  handler: async ({ db, params }) => ({ items: await listDatasetVersions(db, params.datasetId) }),
});

export const createDatasetVersionRoute = defineRoute({
  operationId: "createDatasetVersion",
  method: "post",
  path: "/api/v1/datasets/{datasetId}/versions",
  summary: "Register an immutable dataset version: a file:// URI under <data dir or /data>/projects/{projectId}/datasets/; prepare verifies sha256",
  tags: ["datasets"],
  auth: { kind: "user", scope: "runs:write", role: "engineer", project: byDataset },
  params: datasetParams,
  body: z.object({
    version: z.string().min(1).max(100),
    uri: z.string().min(1).max(2000),
    sha256: z.string().regex(/^[0-9a-f]{64}$/, "must be a lower-case hex sha256"),
    rowCount: z.number().int().min(0),
    sizeBytes: z.number().int().min(0).nullish(),
    format: z.enum(["alpaca", "chat"]),
    splits: boundedRecord(z.strictObject({ rows: z.number().int().min(0), sha256: z.string().regex(/^[0-9a-f]{64}$/, "must be a lower-case hex sha256").optional() }), 20).default({}),
  }),
  response: ZDatasetVersion,
  status: 201,
  handler: ({ db, env, params, body, actor, meta }) => createDatasetVersion(db, params.datasetId, body, actor, meta, { roots: datasetRoots(env.LORAPLANE_DATA_DIR) }),
});

export const listPipelinesRoute = defineRoute({
  operationId: "listPipelines",
  method: "get",
  path: "/api/v1/projects/{projectId}/pipelines",
  summary: "Pipelines of a project",
  tags: ["pipelines"],
  auth: { kind: "user", scope: "runs:read", role: "viewer", project: byProject },
  params: projectParams,
  query: z.object({ includeArchived: z.enum(["true", "false"]).default("false") }),
  response: z.object({ items: z.array(ZPipeline) }),
  handler: async ({ db, params, query }) => ({
    items: await listPipelines(db, params.projectId, { includeArchived: query.includeArchived === "true" }),
  }),
});

const ZPipelineWrite = z.object({
  /** The spec as an object; optional when `specText` carries it. */
  spec: z.unknown().optional(),
  /** The spec as written (YAML or JSON); kept beside the parsed spec so it reads back as the user wrote it. */
  specText: z.string().max(200_000).optional(),
  description: z.string().max(2000).nullish(),
  gitRepo: z.string().max(500).nullish(),
  gitBranches: z.array(z.string().min(1).max(250)).max(50).optional(),
});

/**
 * `specText` alone: the spec is what it parses to (YAML, of which JSON is a subset). With `spec` too, both must say the
 * same, so the text shown later is never a different spec from the one that runs.
 */
function withSpecText<T extends { spec?: unknown; specText?: string }>(body: T, required = false): T & { spec: unknown } {
  if (body.specText === undefined) {
    if (body.spec === undefined && required) throw new HttpError(400, "validation_failed", "spec or specText is required", [{ path: "spec", message: "required (or send specText)" }]);
    return body as T & { spec: unknown };
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(body.specText);
  } catch (error) {
    throw new HttpError(400, "validation_failed", `specText is not valid YAML or JSON: ${(error as Error).message}`, [{ path: "specText", message: "not valid YAML or JSON" }]);
  }
  if (body.spec !== undefined && !isDeepStrictEqual(JSON.parse(JSON.stringify(body.spec)), JSON.parse(JSON.stringify(parsed ?? null)))) {
    throw new HttpError(400, "validation_failed", "specText does not parse to the spec sent with it", [{ path: "specText", message: "differs from spec" }]);
  }
  return { ...body, spec: parsed };
}

export const createPipelineRoute = defineRoute({
  operationId: "createPipeline",
  method: "post",
  path: "/api/v1/projects/{projectId}/pipelines",
  summary: "Create a pipeline from a spec (the pipeline's name is spec.name)",
  tags: ["pipelines"],
  auth: { kind: "user", scope: "runs:write", role: "engineer", project: byProject },
  params: projectParams,
  body: ZPipelineWrite,
  response: ZPipeline,
  status: 201,
  handler: ({ db, params, body, actor, meta }) => createPipeline(db, params.projectId, withSpecText(body, true), actor, meta),
});

const pipelineParams = z.object({ pipelineId: ZId });
const byPipeline = { owner: "pipeline", param: "pipelineId" } as const;

export const getPipelineRoute = defineRoute({
  operationId: "getPipeline",
  method: "get",
  path: "/api/v1/pipelines/{pipelineId}",
  summary: "One pipeline with its spec",
  tags: ["pipelines"],
  auth: { kind: "user", scope: "runs:read", role: "viewer", project: byPipeline },
  params: pipelineParams,
  response: ZPipeline,
  handler: ({ db, params }) => getPipeline(db, params.pipelineId),
});

export const updatePipelineRoute = defineRoute({
  operationId: "updatePipeline",
  method: "patch",
  path: "/api/v1/pipelines/{pipelineId}",
  summary: "Change a pipeline; a new spec bumps specVersion",
  tags: ["pipelines"],
  auth: { kind: "user", scope: "runs:write", role: "engineer", project: byPipeline },
  params: pipelineParams,
  body: ZPipelineWrite.partial().extend({ archived: z.boolean().optional() }),
  response: ZPipeline,
  handler: ({ db, params, body, actor, meta }) =>
    updatePipeline(db, params.pipelineId, withSpecText(body), actor, meta),
});

export const listPipelineSpecVersionsRoute = defineRoute({
  operationId: "listPipelineSpecVersions",
  method: "get",
  path: "/api/v1/pipelines/{pipelineId}/spec-versions",
  summary: "Saved versions of a pipeline's spec, newest first: the text as written (when saved as text) and the parsed spec",
  tags: ["pipelines"],
  auth: { kind: "user", scope: "runs:read", role: "viewer", project: byPipeline },
  params: pipelineParams,
  response: z.object({
    items: z.array(z.object({ version: z.number(), spec: z.unknown(), specText: z.string().nullable(), createdById: z.string().nullable(), createdAt: ZDateTime })),
  }),
  handler: async ({ db, params }) => ({ items: await listPipelineSpecVersions(db, params.pipelineId) }),
});

export const deletePipelineRoute = defineRoute({
  operationId: "deletePipeline",
  method: "delete",
  path: "/api/v1/pipelines/{pipelineId}",
  summary: "Archive a pipeline (its runs and versions stay)",
  tags: ["pipelines"],
  auth: { kind: "user", scope: "runs:write", role: "engineer", project: byPipeline },
  params: pipelineParams,
  response: ZPipeline,
  handler: ({ db, params, actor, meta }) => archivePipeline(db, params.pipelineId, actor, meta),
});

export const validatePipelineRoute = defineRoute({
  operationId: "validatePipelineSpec",
  method: "post",
  path: "/api/v1/pipelines/validate",
  summary: "Validate a spec; every problem with its field path, and the spec with defaults filled in when valid",
  tags: ["pipelines"],
  auth: { kind: "user", scope: "runs:read" },
  body: z.object({ spec: z.unknown() }),
  response: z.object({ valid: z.boolean(), issues: z.array(ZIssue), resolved: z.unknown().optional() }),
  handler: async ({ body }) => validatePipelineSpec(body.spec),
});

export const listEnvironmentsRoute = defineRoute({
  operationId: "listEnvironments",
  method: "get",
  path: "/api/v1/projects/{projectId}/environments",
  summary: "Environments of a project (dev, staging, prod …)",
  tags: ["environments"],
  auth: { kind: "user", scope: "deployments:read", role: "viewer", project: byProject },
  params: projectParams,
  response: z.object({ items: z.array(ZEnvironment) }),
  handler: async ({ db, params }) => ({ items: await listEnvironments(db, params.projectId) }),
});

const ZEnvironmentWrite = z.object({
  name: z.string().min(1).max(63).regex(/^[a-z0-9][a-z0-9-]*$/, "lower-case letters, digits and '-' only"),
  tier: z.enum(["dev", "staging", "prod"]),
  namespace: z.string().min(1).max(63).regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "must be a Kubernetes namespace name"),
  requiresApproval: z.boolean().optional(),
  gatewayUrl: z.string().url().max(2000).nullish(),
  servingBackend: z.enum(["local", "kubernetes"]).optional(),
  captureFeedbackData: z.boolean().optional().describe("Opt-in: the gateway stores prompt and response of answered requests (with their feedback) for feedback datasets"),
  feedbackRetentionDays: z.number().int().min(1).max(3650).optional().describe("Stored interactions older than this are deleted"),
});

export const createEnvironmentRoute = defineRoute({
  operationId: "createEnvironment",
  method: "post",
  path: "/api/v1/projects/{projectId}/environments",
  summary: "Create an environment (prod requires approval unless set otherwise)",
  tags: ["environments"],
  auth: { kind: "user", scope: "admin", role: "admin", project: byProject },
  params: projectParams,
  body: ZEnvironmentWrite,
  response: ZEnvironment,
  status: 201,
  handler: ({ db, params, body, actor, meta }) => createEnvironment(db, params.projectId, body, actor, meta),
});

export const updateEnvironmentRoute = defineRoute({
  operationId: "updateEnvironment",
  method: "patch",
  path: "/api/v1/environments/{id}",
  summary: "Change an environment",
  tags: ["environments"],
  auth: { kind: "user", scope: "admin", role: "admin", project: { owner: "environment", param: "id" } },
  params: z.object({ id: ZId }),
  body: ZEnvironmentWrite.partial(),
  response: ZEnvironment,
  handler: ({ db, params, body, actor, meta }) => updateEnvironment(db, params.id, body, actor, meta),
});
