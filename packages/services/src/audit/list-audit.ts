import { type DbOrTx, listAuditLogs } from "@loraplane/db";
import { redactAuditValue } from "./redact.ts";

export type TAuditFilter = {
  projectIds?: string[];
  projectId?: string;
  action?: string;
  actorId?: string;
  /** user | token | system */
  actorType?: string;
  subjectType?: string;
  subjectId?: string;
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
    // Redacted again on the way out: entries written before redaction existed may hold webhook URLs.
    items: page.map((r) => ({ ...r, id: r.id.toString(), before: redactAuditValue(r.before), after: redactAuditValue(r.after) })),
    nextCursor: rows.length > filter.limit ? page[page.length - 1]!.id.toString() : null,
  };
}
