export { openSecret, sealSecret } from "./secret-box.ts";
export { createWebhookSubscription, deleteWebhook, getWebhook, listWebhooks, WEBHOOK_EVENTS } from "./subscriptions.ts";
export {
  INBOUND_PROVIDERS,
  parsePushEvent,
  pipelinesForPush,
  rotateInboundWebhookSecret,
  SYSTEM_WEBHOOK_ACTOR,
  type TInboundProvider,
  type TPushEvent,
  verifyInboundWebhook,
} from "./inbound.ts";
