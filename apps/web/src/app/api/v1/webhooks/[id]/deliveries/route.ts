import { listWebhookDeliveriesRoute } from "@/server/routes/webhooks";

export const GET = listWebhookDeliveriesRoute.handler;
