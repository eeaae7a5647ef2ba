import { rotateWebhookSecretRoute } from "@/server/routes/webhooks";

export const POST = rotateWebhookSecretRoute.handler;
