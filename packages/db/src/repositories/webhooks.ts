import type { DbOrTx } from "../client.ts";

const subscriptionSelect = { id: true, projectId: true, url: true, events: true, active: true, createdAt: true } as const;

/** Subscriptions as the API shows them: the secret's ciphertext is never selected here. */
export type TWebhookSubscriptionRow = {
  id: string;
  projectId: string;
  url: string;
  events: string[];
  active: boolean;
  createdAt: Date;
};

export function insertWebhookSubscription(
  db: DbOrTx,
  data: { projectId: string; url: string; events: string[]; secretCiphertext: string },
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
