import { randomBytes } from "node:crypto";
import {
  type Db,
  enableWebhookSubscription,
  findWebhookDeliveryById,
  listWebhookDeliveries,
  requeueWebhookDelivery,
  rotateWebhookSubscriptionSecret,
  type TWebhookDeliveryRow,
} from "@loraplane/db";
import { recordAudit, type TActor, type TRequestMeta } from "../audit/index.ts";
import { ConflictError, NotFoundError, ValidationError } from "../errors.ts";
import { sealSecret } from "./secret-box.ts";
import { getWebhook } from "./subscriptions.ts";

/** A page of a subscription's deliveries, newest first; `cursor` is the last item's `createdAt|id`. */
export async function listDeliveries(db: Db, subscriptionId: string, limit: number, cursor?: string): Promise<{ items: TWebhookDeliveryRow[]; nextCursor: string | null }> {
  let before: { createdAt: Date; id: string } | undefined;
  if (cursor) {
    const [at, id] = cursor.split("|");
    const createdAt = new Date(at ?? "");
    if (!id || Number.isNaN(createdAt.getTime())) throw new ValidationError("cursor: not a cursor from a previous page", [{ path: "cursor", message: "not a cursor from a previous page" }]);
    before = { createdAt, id };
  }
  await getWebhook(db, subscriptionId);
  const items = await listWebhookDeliveries(db, subscriptionId, limit + 1, before);
  const more = items.length > limit;
  const page = more ? items.slice(0, limit) : items;
  const last = page[page.length - 1];
  return { items: page, nextCursor: more && last ? `${last.createdAt.toISOString()}|${last.id}` : null };
}

export async function getDelivery(db: Db, id: string) {
  const row = await findWebhookDeliveryById(db, id);
  if (!row) throw new NotFoundError(`webhook delivery ${id} not found`);
  return row;
}

/** Queues the same event again (same webhook-id) — after a receiver's outage, or to test a receiver. */
export async function redeliverWebhook(db: Db, id: string, actor: TActor, meta: TRequestMeta = {}): Promise<void> {
  const row = await getDelivery(db, id);
  if (row.status === "pending") throw new ConflictError(`delivery ${id} is already queued (attempt ${row.attempts + 1} is due ${row.nextAttemptAt?.toISOString() ?? "now"})`);
  await db.$transaction(async (tx) => {
    await requeueWebhookDelivery(tx, id);
    await recordAudit(tx, actor, { projectId: row.projectId, action: "webhook.redeliver", subjectType: "webhook_delivery", subjectId: id, after: { event: row.event, eventId: row.eventId } }, meta);
  });
}

/**
 * A new signing secret, returned once. The previous one keeps signing beside it for `overlapHours` so receivers can
 * switch over without a failed delivery (Standard Webhooks: several signatures in one header).
 */
export async function rotateWebhookSecret(db: Db, secretKey: string, id: string, overlapHours: number, actor: TActor, meta: TRequestMeta = {}): Promise<{ secret: string; previousValidUntil: string }> {
  const sub = await getWebhook(db, id);
  const secret = `whsec_${randomBytes(24).toString("base64url")}`;
  const until = new Date(Date.now() + overlapHours * 3_600_000);
  await db.$transaction(async (tx) => {
    await rotateWebhookSubscriptionSecret(tx, id, sealSecret(secretKey, secret), until);
    await recordAudit(tx, actor, { projectId: sub.projectId, action: "webhook.rotate_secret", subjectType: "webhook_subscription", subjectId: id, after: { previousValidUntil: until.toISOString() } }, meta);
  });
  return { secret, previousValidUntil: until.toISOString() };
}

/** Turns a subscription that was disabled after repeated failures back on (its failure streak starts again at 0). */
export async function enableWebhook(db: Db, id: string, actor: TActor, meta: TRequestMeta = {}): Promise<void> {
  const sub = await getWebhook(db, id);
  await db.$transaction(async (tx) => {
    await enableWebhookSubscription(tx, id);
    await recordAudit(tx, actor, { projectId: sub.projectId, action: "webhook.enable", subjectType: "webhook_subscription", subjectId: id, before: { disabledReason: sub.disabledReason } }, meta);
  });
}
