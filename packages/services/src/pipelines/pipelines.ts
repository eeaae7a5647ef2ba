import { resolveSpec, type TPipelineSpec, type TSpecIssue } from "@loraplane/core";
import {
  type Db,
  findPipelineByName,
  findPipelineRecord,
  insertPipeline,
  listPipelineRecords,
  type Prisma,
  type TPipelineRow,
  updatePipelineRecord,
  upsertPipelineSpecVersion,
} from "@loraplane/db";
import { ConflictError, NotFoundError, ValidationError } from "../errors.ts";
import { recordAudit, type TActor, type TRequestMeta } from "../audit/index.ts";

export type TSpecValidation = { valid: true; issues: []; resolved: TPipelineSpec } | { valid: false; issues: TSpecIssue[] };

/** Validates a spec and reports every problem with its field path (the dashboard calls it as the user types). */
export function validatePipelineSpec(spec: unknown): TSpecValidation {
  const result = resolveSpec(spec);
  return result.ok ? { valid: true, issues: [], resolved: result.spec } : { valid: false, issues: result.issues };
}

function requireValidSpec(spec: unknown, pathPrefix: string): TPipelineSpec {
  const result = resolveSpec(spec);
  if (!result.ok) {
    throw new ValidationError(
      "the pipeline spec is invalid",
      result.issues.map((i) => ({ path: i.path ? `${pathPrefix}.${i.path}` : pathPrefix, message: i.message })),
    );
  }
  return result.spec;
}

const GIT_BRANCH = /^[A-Za-z0-9._\-/]+$/;

function checkBranches(branches: string[] | undefined) {
  branches?.forEach((b, i) => {
    if (!GIT_BRANCH.test(b)) throw new ValidationError(`"${b}" is not a branch name`, [{ path: `gitBranches[${i}]`, message: "not a branch name" }]);
  });
}

export function listPipelines(db: Db, projectId: string, options: { includeArchived?: boolean } = {}) {
  return listPipelineRecords(db, projectId, { includeArchived: options.includeArchived ?? false });
}

export async function getPipeline(db: Db, id: string): Promise<TPipelineRow> {
  const pipeline = await findPipelineRecord(db, id);
  if (!pipeline) throw new NotFoundError(`pipeline ${id} not found`);
  return pipeline;
}

/**
 * Stores the spec as the user wrote it (validated); defaults are filled in when a run is triggered, so a run records
 * the resolved spec it actually ran. The pipeline's name is the spec's `name`.
 */
export async function createPipeline(
  db: Db,
  projectId: string,
  input: { spec: unknown; specText?: string | null; description?: string | null; gitRepo?: string | null; gitBranches?: string[] },
  actor: TActor,
  meta: TRequestMeta = {},
): Promise<TPipelineRow> {
  const resolved = requireValidSpec(input.spec, "spec");
  checkBranches(input.gitBranches);
  if (await findPipelineByName(db, projectId, resolved.name)) {
    throw new ConflictError(`a pipeline named "${resolved.name}" already exists in this project`, [{ path: "spec.name", message: "already taken" }]);
  }
  return db.$transaction(async (tx) => {
    const pipeline = await insertPipeline(tx, {
      projectId,
      name: resolved.name,
      description: input.description ?? resolved.description ?? null,
      spec: input.spec as Prisma.InputJsonValue,
      specText: input.specText ?? null,
      gitRepo: input.gitRepo ?? null,
      gitBranches: input.gitBranches ?? [],
      createdById: actor.userId,
      // A person's edit counts for separation of duties; the system seeding a demo pipeline for its owner does not.
      specEditedById: actor.type === "system" ? null : actor.userId,
      specEditedAt: new Date(),
    });
    await upsertPipelineSpecVersion(tx, { pipelineId: pipeline.id, version: pipeline.specVersion, spec: input.spec as Prisma.InputJsonValue, specText: input.specText ?? null, createdById: actor.userId });
    await recordAudit(
      tx,
      actor,
      { projectId, action: "pipeline.create", subjectType: "pipeline", subjectId: pipeline.id, after: { name: pipeline.name, spec: input.spec } },
      meta,
    );
    return pipeline;
  });
}

export async function updatePipeline(
  db: Db,
  id: string,
  input: { spec?: unknown; specText?: string | null; description?: string | null; gitRepo?: string | null; gitBranches?: string[]; archived?: boolean },
  actor: TActor,
  meta: TRequestMeta = {},
): Promise<TPipelineRow> {
  const before = await getPipeline(db, id);
  let name: string | undefined;
  if (input.spec !== undefined) {
    name = requireValidSpec(input.spec, "spec").name;
    if (name !== before.name && (await findPipelineByName(db, before.projectId, name))) {
      throw new ConflictError(`a pipeline named "${name}" already exists in this project`, [{ path: "spec.name", message: "already taken" }]);
    }
  }
  checkBranches(input.gitBranches);
  return db.$transaction(async (tx) => {
    const after = await updatePipelineRecord(tx, id, {
      // Whoever changes the spec (its gates and thresholds) may not approve the releases of the runs that follow.
      // The text is kept only with the spec it was parsed into; a spec sent without text has none.
      ...(name !== undefined ? { name, spec: input.spec as Prisma.InputJsonValue, specText: input.specText ?? null, specEditedById: actor.type === "system" ? null : actor.userId, specEditedAt: new Date() } : {}),
      ...(input.description !== undefined ? { description: input.description } : {}),
      ...(input.gitRepo !== undefined ? { gitRepo: input.gitRepo } : {}),
      ...(input.gitBranches !== undefined ? { gitBranches: input.gitBranches } : {}),
      ...(input.archived !== undefined ? { archivedAt: input.archived ? (before.archivedAt ?? new Date()) : null } : {}),
    });
    if (name !== undefined) {
      await upsertPipelineSpecVersion(tx, { pipelineId: id, version: after.specVersion, spec: input.spec as Prisma.InputJsonValue, specText: input.specText ?? null, createdById: actor.userId });
    }
    await recordAudit(
      tx,
      actor,
      {
        projectId: before.projectId,
        action: input.archived === true ? "pipeline.archive" : "pipeline.update",
        subjectType: "pipeline",
        subjectId: id,
        before: { name: before.name, specVersion: before.specVersion, spec: before.spec, gitBranches: before.gitBranches, archivedAt: before.archivedAt },
        after: { name: after.name, specVersion: after.specVersion, spec: after.spec, gitBranches: after.gitBranches, archivedAt: after.archivedAt },
      },
      meta,
    );
    return after;
  });
}

/** Pipelines are archived, not deleted: their runs and model versions keep pointing at them. */
export function archivePipeline(db: Db, id: string, actor: TActor, meta: TRequestMeta = {}) {
  return updatePipeline(db, id, { archived: true }, actor, meta);
}
