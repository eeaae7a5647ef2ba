import { enableWebhookRoute } from "@/server/routes/webhooks";

export const POST = enableWebhookRoute.handler;
