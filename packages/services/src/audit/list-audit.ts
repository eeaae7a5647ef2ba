import { type DbOrTx, listAuditLogs } from "@loraplane/db";

export type TAuditFilter = {
  projectIds?: string[];
  projectId?: string;
  action?: string;
  actorId?: string;
  subjectType?: string;
  cursor?: string;
  limit: number;
};

/** Keyset page of audit entries, newest first; `nextCursor` is the last id returned when more may follow. */
export async function listAudit(db: DbOrTx, filter: TAuditFilter) {
  const rows = await listAuditLogs(db, {
    ...filter,
    beforeId: filter.cursor ? BigInt(filter.cursor) : undefined,
    limit: filter.limit + 1,
  });
  const page = rows.slice(0, filter.limit);
  return {
    items: page.map((r) => ({ ...r, id: r.id.toString() })),
    nextCursor: rows.length > filter.limit ? page[page.length - 1]!.id.toString() : null,
  };
}
