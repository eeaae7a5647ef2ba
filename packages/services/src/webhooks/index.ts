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
export { isPrivateAddress, parseWebhookAllowlist, resolveWebhookTarget, type TWebhookAllowlist, WebhookAddressError } from "./address-guard.ts";
export { signWebhook, verifyWebhookSignature, webhookHeaders } from "./signing.ts";
export { deliverDueWebhooks, deliverOne, type TWebhookDeliveryOptions } from "./deliver.ts";
export { enableWebhook, getDelivery, listDeliveries, redeliverWebhook, rotateWebhookSecret } from "./delivery-log.ts";
