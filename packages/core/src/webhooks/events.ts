// The events a webhook subscription may ask for: one list for the API's validation and the dashboard's checkboxes.
export const WEBHOOK_EVENTS = [
  "run.succeeded",
  "run.failed",
  "run.blocked",
  "run.cancelled",
  "approval.requested",
  "approval.decided",
  "deployment.promoted",
  "deployment.rolled_back",
  "model_version.registered",
  "release.stage_started",
  "release.awaiting_approval",
  "release.promoted",
  "release.rolled_back",
] as const;
export type TWebhookEvent = (typeof WEBHOOK_EVENTS)[number];
