import type { DbOrTx } from "../client.ts";
import { jsonOrDbNull } from "./json.ts";

export type TAuditInsert = {
  projectId?: string | null;
  actorType: "user" | "token" | "system";
  actorId?: string | null;
  action: string;
  subjectType: string;
  subjectId?: string | null;
  before?: unknown;
  after?: unknown;
  requestId?: string | null;
  ip?: string | null;
};

export type TAuditRow = {
  id: bigint;
  projectId: string | null;
  actorType: string;
  actorId: string | null;
  action: string;
  subjectType: string;
  subjectId: string | null;
  before: unknown;
  after: unknown;
  requestId: string | null;
  ip: string | null;
  createdAt: Date;
};

export async function insertAuditLog(db: DbOrTx, entry: TAuditInsert): Promise<void> {
  await db.auditLog.create({
    data: {
      projectId: entry.projectId ?? null,
      actorType: entry.actorType,
      actorId: entry.actorId ?? null,
      action: entry.action,
      subjectType: entry.subjectType,
      subjectId: entry.subjectId ?? null,
      before: jsonOrDbNull(entry.before),
      after: jsonOrDbNull(entry.after),
      requestId: entry.requestId ?? null,
      ip: entry.ip ?? null,
    },
  });
}

/**
 * Newest first, keyset-paginated on the id (the `(projectId, id)` index serves the per-project query).
 * `projectIds` undefined means every project; global entries (projectId null) are only visible then.
 */
export function listAuditLogs(
  db: DbOrTx,
  filter: {
    projectIds?: string[];
    projectId?: string;
    action?: string;
    actorId?: string;
    actorType?: string;
    subjectType?: string;
    subjectId?: string;
    beforeId?: bigint;
    limit: number;
  },
): Promise<TAuditRow[]> {
  const projectWhere = filter.projectId
    ? { projectId: filter.projectId }
    : filter.projectIds
      ? { projectId: { in: filter.projectIds } }
      : {};
  return db.auditLog.findMany({
    where: {
      ...projectWhere,
      ...(filter.action ? { action: filter.action } : {}),
      ...(filter.actorId ? { actorId: filter.actorId } : {}),
      ...(filter.actorType ? { actorType: filter.actorType } : {}),
      ...(filter.subjectType ? { subjectType: filter.subjectType } : {}),
      ...(filter.subjectId ? { subjectId: filter.subjectId } : {}),
      ...(filter.beforeId !== undefined ? { id: { lt: filter.beforeId } } : {}),
    },
    orderBy: { id: "desc" },
    take: filter.limit,
  });
}
