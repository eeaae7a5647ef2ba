import { type DbOrTx, insertAuditLog } from "@loraplane/db";
import { redactAuditValue } from "./redact.ts";

/** Who did something: a signed-in user, a user's API token, or the system (workers, webhooks). */
export type TActor = { type: "user" | "token" | "system"; userId: string | null; tokenId?: string | null };

export type TRequestMeta = { requestId?: string | null; ip?: string | null };

export type TAuditEntry = {
  projectId?: string | null;
  action: string;
  subjectType: string;
  subjectId?: string | null;
  before?: unknown;
  after?: unknown;
};

/**
 * Writes one audit entry. Callers pass the transaction that made the change, so the entry exists exactly when the
 * change does. The actor id is always the user (also for token calls), so filtering by person shows everything they did.
 */
export async function recordAudit(db: DbOrTx, actor: TActor, entry: TAuditEntry, meta: TRequestMeta = {}): Promise<void> {
  const after = redactAuditValue(entry.after);
  await insertAuditLog(db, {
    ...entry,
    actorType: actor.type,
    actorId: actor.userId,
    requestId: meta.requestId ?? null,
    ip: meta.ip ?? null,
    // Secrets (webhook URLs, secret fields) never reach the log: entries are visible to every project member.
    before: redactAuditValue(entry.before),
    after: actor.tokenId && after && typeof after === "object" ? { ...after, viaTokenId: actor.tokenId } : after,
  });
}
