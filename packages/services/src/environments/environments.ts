import {
  type Db,
  findEnvironmentById,
  insertEnvironment,
  listEnvironmentRecords,
  notifyRoutingChange,
  type TEnvironmentRow,
  type TEnvironmentWrite,
  updateEnvironmentRecord,
} from "@loraplane/db";
import { ConflictError, NotFoundError } from "../errors.ts";
import { recordAudit, type TActor, type TRequestMeta } from "../audit/index.ts";

export function listEnvironments(db: Db, projectId: string): Promise<TEnvironmentRow[]> {
  return listEnvironmentRecords(db, projectId);
}

export async function getEnvironment(db: Db, id: string): Promise<TEnvironmentRow> {
  const env = await findEnvironmentById(db, id);
  if (!env) throw new NotFoundError(`environment ${id} not found`);
  return env;
}

function nameTaken(db: Db, projectId: string, name: string, exceptId?: string) {
  return listEnvironmentRecords(db, projectId).then((all) => all.some((e) => e.name === name && e.id !== exceptId));
}

/** Production environments require approval unless the caller says otherwise explicitly. */
export async function createEnvironment(
  db: Db,
  projectId: string,
  input: Required<Pick<TEnvironmentWrite, "name" | "tier" | "namespace">> & TEnvironmentWrite,
  actor: TActor,
  meta: TRequestMeta = {},
): Promise<TEnvironmentRow> {
  if (await nameTaken(db, projectId, input.name)) {
    throw new ConflictError(`an environment named "${input.name}" already exists`, [{ path: "name", message: "already taken" }]);
  }
  return db.$transaction(async (tx) => {
    const env = await insertEnvironment(tx, { ...input, projectId, requiresApproval: input.requiresApproval ?? input.tier === "prod" });
    await recordAudit(tx, actor, { projectId, action: "environment.create", subjectType: "environment", subjectId: env.id, after: env }, meta);
    return env;
  });
}

export async function updateEnvironment(
  db: Db,
  id: string,
  input: TEnvironmentWrite,
  actor: TActor,
  meta: TRequestMeta = {},
): Promise<TEnvironmentRow> {
  const before = await getEnvironment(db, id);
  if (input.name && (await nameTaken(db, before.projectId, input.name, id))) {
    throw new ConflictError(`an environment named "${input.name}" already exists`, [{ path: "name", message: "already taken" }]);
  }
  return db.$transaction(async (tx) => {
    const after = await updateEnvironmentRecord(tx, id, input);
    await recordAudit(tx, actor, { projectId: before.projectId, action: "environment.update", subjectType: "environment", subjectId: id, before, after }, meta);
    // Gateways read captureFeedbackData with the routing table: reload now rather than at the next resync.
    if (after.captureFeedbackData !== before.captureFeedbackData) await notifyRoutingChange(tx, id);
    return after;
  });
}
