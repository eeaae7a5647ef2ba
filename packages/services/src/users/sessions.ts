import { bumpSessionEpoch, type Db } from "@loraplane/db";
import { recordAudit, type TActor, type TRequestMeta } from "../audit/index.ts";

/** Ends every browser session of `userId` (sign-out, "sign out everywhere"); API tokens are not affected. */
export async function endAllSessions(db: Db, userId: string, actor: TActor, meta: TRequestMeta = {}): Promise<void> {
  await db.$transaction(async (tx) => {
    await bumpSessionEpoch(tx, userId);
    await recordAudit(tx, actor, { action: "user.sessions_end", subjectType: "user", subjectId: userId }, meta);
  });
}
