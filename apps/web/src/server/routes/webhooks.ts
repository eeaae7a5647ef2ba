// Outbound webhook operations beyond the subscription CRUD in settings.ts: the delivery log, redelivery, secret
// rotation and re-enabling a subscription the worker disabled after repeated failures.
import { enableWebhook, listDeliveries, redeliverWebhook, rotateWebhookSecret } from "@loraplane/services";
import { defineRoute } from "../api/route.ts";
import { page, ZId, ZLimit, ZOk, ZWebhookDelivery } from "../api/schemas.ts";
import { z } from "../api/zod.ts";

const adminOfWebhook = { kind: "user", scope: "admin", role: "admin", project: { owner: "webhook", param: "id" } } as const;

export const listWebhookDeliveriesRoute = defineRoute({
  operationId: "listWebhookDeliveries",
  method: "get",
  path: "/api/v1/webhooks/{id}/deliveries",
  summary: "A subscription's deliveries, newest first, with the last attempt's request and response excerpts",
  tags: ["settings"],
  auth: adminOfWebhook,
  params: z.object({ id: ZId }),
  query: z.object({ limit: ZLimit, cursor: z.string().max(100).optional() }),
  response: page(ZWebhookDelivery),
  handler: ({ db, params, query }) => listDeliveries(db, params.id, query.limit, query.cursor),
});

export const redeliverWebhookRoute = defineRoute({
  operationId: "redeliverWebhook",
  method: "post",
  path: "/api/v1/webhook-deliveries/{id}/redeliver",
  summary: "Send a delivered or failed event again, with the same webhook-id (receivers deduplicate on it)",
  tags: ["settings"],
  auth: { kind: "user", scope: "admin", role: "admin", project: { owner: "webhook_delivery", param: "id" } },
  params: z.object({ id: ZId }),
  body: z.object({}),
  response: ZOk,
  status: 202,
  handler: async ({ db, params, actor, meta }) => {
    await redeliverWebhook(db, params.id, actor, meta);
    return { ok: true as const };
  },
});

export const rotateWebhookSecretRoute = defineRoute({
  operationId: "rotateWebhookSecret",
  method: "post",
  path: "/api/v1/webhooks/{id}/secret",
  summary: "New signing secret (returned once); the previous one keeps signing beside it for overlapHours",
  tags: ["settings"],
  auth: adminOfWebhook,
  params: z.object({ id: ZId }),
  body: z.object({ overlapHours: z.number().int().min(0).max(168).default(24) }),
  response: z.object({ secret: z.string(), previousValidUntil: z.string() }),
  status: 201,
  handler: ({ db, env, params, body, actor, meta }) => rotateWebhookSecret(db, env.LORAPLANE_SECRET_KEY, params.id, body.overlapHours, actor, meta),
});

export const enableWebhookRoute = defineRoute({
  operationId: "enableWebhook",
  method: "post",
  path: "/api/v1/webhooks/{id}/enable",
  summary: "Re-enable a subscription that was disabled after repeated failed deliveries",
  tags: ["settings"],
  auth: adminOfWebhook,
  params: z.object({ id: ZId }),
  body: z.object({}),
  response: ZOk,
  handler: async ({ db, params, actor, meta }) => {
    await enableWebhook(db, params.id, actor, meta);
    return { ok: true as const };
  },
});
