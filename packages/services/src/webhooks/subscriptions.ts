import { randomBytes } from "node:crypto";
import {
  type Db,
  deleteWebhookSubscription,
  findWebhookSubscriptionById,
  insertWebhookSubscription,
  listWebhookSubscriptions,
  type TWebhookSubscriptionRow,
} from "@loraplane/db";
import { NotFoundError } from "../errors.ts";
import { recordAudit, type TActor, type TRequestMeta } from "../audit/index.ts";
import { sealSecret } from "./secret-box.ts";
import { NO_ALLOWLIST, resolveWebhookTarget, type TWebhookAllowlist } from "./address-guard.ts";
import type { TWebhookFormat } from "@loraplane/core";

export { WEBHOOK_EVENTS } from "@loraplane/core";

/**
 * Subscribes `url` to events. The signing secret is sealed with LORAPLANE_SECRET_KEY before it is stored; a generated
 * one is returned here once and never again.
 */
export async function createWebhookSubscription(
  db: Db,
  secretKey: string,
  projectId: string,
  input: { url: string; events: string[]; secret?: string; format?: TWebhookFormat },
  actor: TActor,
  meta: TRequestMeta = {},
  allowlist: TWebhookAllowlist = NO_ALLOWLIST,
): Promise<{ subscription: TWebhookSubscriptionRow; secret: string | null }> {
  // Refused now, with the reason, rather than at the first delivery; the worker checks again before every send.
  await resolveWebhookTarget(input.url, allowlist);
  const secret = input.secret ?? `whsec_${randomBytes(24).toString("base64url")}`;
  const subscription = await db.$transaction(async (tx) => {
    const created = await insertWebhookSubscription(tx, {
      projectId,
      url: input.url,
      events: [...new Set(input.events)],
      format: input.format ?? "standard",
      secretCiphertext: sealSecret(secretKey, secret),
    });
    await recordAudit(
      tx,
      actor,
      { projectId, action: "webhook.create", subjectType: "webhook_subscription", subjectId: created.id, after: { url: created.url, events: created.events } },
      meta,
    );
    return created;
  });
  return { subscription, secret: input.secret ? null : secret };
}

export function listWebhooks(db: Db, projectId: string) {
  return listWebhookSubscriptions(db, projectId);
}

export async function getWebhook(db: Db, id: string): Promise<TWebhookSubscriptionRow> {
  const row = await findWebhookSubscriptionById(db, id);
  if (!row) throw new NotFoundError(`webhook ${id} not found`);
  return row;
}

export async function deleteWebhook(db: Db, id: string, actor: TActor, meta: TRequestMeta = {}): Promise<void> {
  const row = await getWebhook(db, id);
  await db.$transaction(async (tx) => {
    await deleteWebhookSubscription(tx, id);
    await recordAudit(tx, actor, { projectId: row.projectId, action: "webhook.delete", subjectType: "webhook_subscription", subjectId: id, before: row }, meta);
  });
}
