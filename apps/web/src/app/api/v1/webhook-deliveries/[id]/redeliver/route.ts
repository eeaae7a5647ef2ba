import { redeliverWebhookRoute } from "@/server/routes/webhooks";

export const POST = redeliverWebhookRoute.handler;
