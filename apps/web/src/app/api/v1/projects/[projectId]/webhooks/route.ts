import { createWebhookRoute, listWebhooksRoute } from "@/server/routes/settings";

export const GET = listWebhooksRoute.handler;
export const POST = createWebhookRoute.handler;
