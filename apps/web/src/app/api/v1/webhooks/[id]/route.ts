import { deleteWebhookRoute } from "@/server/routes/settings";

export const DELETE = deleteWebhookRoute.handler;
