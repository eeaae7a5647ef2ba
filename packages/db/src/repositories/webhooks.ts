import type { DbOrTx } from "../client.ts";

const subscriptionSelect = {
  id: true,
  projectId: true,
  url: true,
  format: true,
  events: true,
  active: true,
  consecutiveFailures: true,
  disabledAt: true,
  disabledReason: true,
  createdAt: true,
} as const;

/** Subscriptions as the API shows them: the secrets' ciphertexts are never selected here. */
export type TWebhookSubscriptionRow = {
  id: string;
  projectId: string;
  url: string;
  format: string;
  events: string[];
  active: boolean;
  consecutiveFailures: number;
  disabledAt: Date | null;
  disabledReason: string | null;
  createdAt: Date;
};

export function insertWebhookSubscription(
  db: DbOrTx,
  data: { projectId: string; url: string; events: string[]; secretCiphertext: string; format?: string },
): Promise<TWebhookSubscriptionRow> {
  return db.webhookSubscription.create({ data, select: subscriptionSelect });
}

export function listWebhookSubscriptions(db: DbOrTx, projectId: string): Promise<TWebhookSubscriptionRow[]> {
  return db.webhookSubscription.findMany({ where: { projectId }, select: subscriptionSelect, orderBy: { createdAt: "asc" } });
}

export function findWebhookSubscriptionById(db: DbOrTx, id: string): Promise<TWebhookSubscriptionRow | null> {
  return db.webhookSubscription.findUnique({ where: { id }, select: subscriptionSelect });
}

export async function deleteWebhookSubscription(db: DbOrTx, id: string): Promise<void> {
  await db.webhookSubscription.deleteMany({ where: { id } });
}

export function findInboundWebhook(
  db: DbOrTx,
  projectId: string,
  provider: string,
): Promise<{ id: string; secretCiphertext: string } | null> {
  return db.inboundWebhook.findUnique({
    where: { projectId_provider: { projectId, provider } },
    select: { id: true, secretCiphertext: true },
  });
}

export function upsertInboundWebhook(
  db: DbOrTx,
  data: { projectId: string; provider: string; secretCiphertext: string },
): Promise<{ id: string; createdAt: Date }> {
  return db.inboundWebhook.upsert({
    where: { projectId_provider: { projectId: data.projectId, provider: data.provider } },
    create: data,
    update: { secretCiphertext: data.secretCiphertext },
    select: { id: true, createdAt: true },
  });
}

// ─── Outbound delivery (the WebhookDelivery table is the outbox) ────────────────────────────────────────────────

export interface TDueDelivery {
  id: string;
  event: string;
  eventId: string;
  payload: unknown;
  attempts: number;
  createdAt: Date;
  subscription: {
    id: string;
    projectId: string;
    url: string;
    format: string;
    active: boolean;
    disabledAt: Date | null;
    secretCiphertext: string;
    previousSecretCiphertext: string | null;
    previousSecretExpiresAt: Date | null;
  };
}

/**
 * Claims up to `limit` due deliveries: each claim counts an attempt and moves nextAttemptAt a lease ahead, so a
 * worker that dies mid-send leaves the row due again after the lease (at-least-once) and two workers never send the
 * same attempt (SKIP LOCKED).
 */
export async function claimDueWebhookDeliveries(db: DbOrTx, limit: number, leaseMs: number): Promise<TDueDelivery[]> {
  const claimed = await db.$queryRaw<{ id: string }[]>`
    UPDATE "WebhookDelivery" SET "attempts" = "attempts" + 1, "lastAttemptAt" = now(),
      "nextAttemptAt" = now() + (${leaseMs}::int * interval '1 millisecond')
    WHERE "id" IN (
      SELECT "id" FROM "WebhookDelivery"
      WHERE "status" = 'pending' AND "nextAttemptAt" <= now()
      ORDER BY "nextAttemptAt" LIMIT ${limit} FOR UPDATE SKIP LOCKED)
    RETURNING "id"`;
  if (claimed.length === 0) return [];
  return db.webhookDelivery.findMany({
    where: { id: { in: claimed.map((c) => c.id) } },
    select: {
      id: true,
      event: true,
      eventId: true,
      payload: true,
      attempts: true,
      createdAt: true,
      subscription: {
        select: {
          id: true,
          projectId: true,
          url: true,
          format: true,
          active: true,
          disabledAt: true,
          secretCiphertext: true,
          previousSecretCiphertext: true,
          previousSecretExpiresAt: true,
        },
      },
    },
  });
}

export async function recordWebhookAttempt(
  db: DbOrTx,
  id: string,
  data: {
    status: "pending" | "succeeded" | "failed";
    lastStatusCode: number | null;
    lastError: string | null;
    lastRequest: string;
    lastResponse: string;
    lastDurationMs: number;
    nextAttemptAt: Date | null;
  },
): Promise<void> {
  await db.webhookDelivery.update({ where: { id }, data: { ...data, deliveredAt: data.status === "succeeded" ? new Date() : null } });
}

/** A delivered event resets the subscription's failure streak; an exhausted one extends it (returns the streak). */
export async function updateSubscriptionFailureStreak(db: DbOrTx, subscriptionId: string, failed: boolean): Promise<number> {
  const row = await db.webhookSubscription.update({
    where: { id: subscriptionId },
    data: { consecutiveFailures: failed ? { increment: 1 } : 0 },
    select: { consecutiveFailures: true },
  });
  return row.consecutiveFailures;
}

export async function disableWebhookSubscription(db: DbOrTx, id: string, reason: string): Promise<void> {
  await db.webhookSubscription.update({ where: { id }, data: { active: false, disabledAt: new Date(), disabledReason: reason } });
}

export async function enableWebhookSubscription(db: DbOrTx, id: string): Promise<void> {
  await db.webhookSubscription.update({ where: { id }, data: { active: true, disabledAt: null, disabledReason: null, consecutiveFailures: 0 } });
}

export async function rotateWebhookSubscriptionSecret(db: DbOrTx, id: string, secretCiphertext: string, previousValidUntil: Date): Promise<void> {
  const row = await db.webhookSubscription.findUniqueOrThrow({ where: { id }, select: { secretCiphertext: true } });
  await db.webhookSubscription.update({
    where: { id },
    data: { secretCiphertext, previousSecretCiphertext: row.secretCiphertext, previousSecretExpiresAt: previousValidUntil },
  });
}

const deliverySelect = {
  id: true,
  subscriptionId: true,
  event: true,
  eventId: true,
  status: true,
  attempts: true,
  lastStatusCode: true,
  lastError: true,
  lastRequest: true,
  lastResponse: true,
  lastDurationMs: true,
  lastAttemptAt: true,
  nextAttemptAt: true,
  deliveredAt: true,
  createdAt: true,
} as const;

export type TWebhookDeliveryRow = {
  id: string;
  subscriptionId: string;
  event: string;
  eventId: string;
  status: string;
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
  lastRequest: string | null;
  lastResponse: string | null;
  lastDurationMs: number | null;
  lastAttemptAt: Date | null;
  nextAttemptAt: Date | null;
  deliveredAt: Date | null;
  createdAt: Date;
};

/** Newest first, keyset-paged by (createdAt, id). */
export function listWebhookDeliveries(db: DbOrTx, subscriptionId: string, limit: number, before?: { createdAt: Date; id: string }): Promise<TWebhookDeliveryRow[]> {
  return db.webhookDelivery.findMany({
    where: {
      subscriptionId,
      ...(before ? { OR: [{ createdAt: { lt: before.createdAt } }, { createdAt: before.createdAt, id: { lt: before.id } }] } : {}),
    },
    select: deliverySelect,
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take: limit,
  });
}

export function findWebhookDeliveryById(db: DbOrTx, id: string): Promise<(TWebhookDeliveryRow & { projectId: string }) | null> {
  return db.webhookDelivery
    .findUnique({ where: { id }, select: { ...deliverySelect, subscription: { select: { projectId: true } } } })
    .then((r) => {
      if (!r) return null;
      const { subscription, ...row } = r;
      return { ...row, projectId: subscription.projectId };
    });
}

/** Sends the same event again (same webhook-id, so receivers can deduplicate), as soon as a worker is free. */
export async function requeueWebhookDelivery(db: DbOrTx, id: string): Promise<void> {
  await db.webhookDelivery.update({ where: { id }, data: { status: "pending", attempts: 0, nextAttemptAt: new Date(), deliveredAt: null } });
}
