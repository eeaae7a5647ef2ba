import {
  claimDueWebhookDeliveries,
  type Db,
  disableWebhookSubscription,
  recordWebhookAttempt,
  type TDueDelivery,
  updateSubscriptionFailureStreak,
} from "@loraplane/db";
import { DEFAULT_WEBHOOK_RETRY, isDeliverySuccess, nextRetryDelayMs, type TRetryPolicy, type TWebhookFormat, webhookBody } from "@loraplane/core";
import { recordAudit, type TActor } from "../audit/index.ts";
import { resolveWebhookTarget, type TWebhookAllowlist, WebhookAddressError } from "./address-guard.ts";
import { openSecret } from "./secret-box.ts";
import { sendWebhook, type TSendResult } from "./send.ts";
import { webhookHeaders } from "./signing.ts";

export interface TWebhookDeliveryOptions {
  secretKey: string;
  allowlist: TWebhookAllowlist;
  /** Dashboard origin for the links in chat messages. */
  dashboardUrl: string;
  retry?: TRetryPolicy;
  timeoutMs?: number;
  /** A claimed delivery becomes due again after this long if its worker died mid-send. */
  leaseMs?: number;
  batchSize?: number;
  /** Exhausted deliveries in a row after which a subscription is disabled. */
  disableAfterFailures?: number;
  random?: () => number;
}

const REQUEST_EXCERPT_BYTES = 1024;
const SYSTEM_ACTOR: TActor = { type: "system", userId: null };

function secretsOf(d: TDueDelivery, secretKey: string, now: Date): string[] {
  const s = d.subscription;
  const current = openSecret(secretKey, s.secretCiphertext);
  const previousValid = s.previousSecretCiphertext && s.previousSecretExpiresAt && s.previousSecretExpiresAt > now;
  return previousValid ? [current, openSecret(secretKey, s.previousSecretCiphertext!)] : [current];
}

/** Headers as the delivery log shows them: the signature is derived from the secret, so only its shape is kept. */
function requestExcerpt(headers: Record<string, string>, body: string): string {
  const shown = { ...headers, "webhook-signature": headers["webhook-signature"]!.replace(/v1,[^ ]+/g, "v1,…") };
  const lines = Object.entries(shown).map(([k, v]) => `${k}: ${v}`);
  return `${lines.join("\n")}\n\n${body.slice(0, REQUEST_EXCERPT_BYTES)}`;
}

/** Sends one claimed delivery and records the outcome: delivered, due again after a backoff, or failed for good. */
export async function deliverOne(db: Db, d: TDueDelivery, o: TWebhookDeliveryOptions): Promise<"succeeded" | "pending" | "failed"> {
  const now = new Date();
  const retry = o.retry ?? DEFAULT_WEBHOOK_RETRY;
  if (!d.subscription.active || d.subscription.disabledAt) {
    await recordWebhookAttempt(db, d.id, { status: "failed", lastStatusCode: null, lastError: "subscription is disabled", lastRequest: "", lastResponse: "", lastDurationMs: 0, nextAttemptAt: null });
    return "failed";
  }
  const body = JSON.stringify(webhookBody(d.subscription.format as TWebhookFormat, d.event, d.payload as Record<string, unknown>, d.createdAt, o.dashboardUrl));
  const headers = webhookHeaders(secretsOf(d, o.secretKey, now), d.eventId, Math.floor(now.getTime() / 1000), body);
  let result: TSendResult;
  let permanent = false;
  try {
    const target = await resolveWebhookTarget(d.subscription.url, o.allowlist);
    result = await sendWebhook(target, headers, body, o.timeoutMs ?? 10_000);
  } catch (error) {
    // A refused address will not become acceptable by waiting: fail now, with the reason in the log.
    permanent = error instanceof WebhookAddressError;
    result = { status: null, responseExcerpt: "", retryAfterMs: null, durationMs: 0, error: error instanceof Error ? error.message : String(error) };
  }
  const ok = isDeliverySuccess(result.status);
  const delay = ok || permanent ? null : nextRetryDelayMs(retry, d.attempts, (o.random ?? Math.random)(), result.retryAfterMs);
  const status = ok ? "succeeded" : delay === null ? "failed" : "pending";
  const error = ok ? null : (result.error ?? `HTTP ${result.status}${result.status && result.status >= 300 && result.status < 400 ? " (redirects are not followed)" : ""}`);
  await recordWebhookAttempt(db, d.id, {
    status,
    lastStatusCode: result.status,
    lastError: error,
    lastRequest: requestExcerpt(headers, body),
    lastResponse: result.responseExcerpt,
    lastDurationMs: result.durationMs,
    nextAttemptAt: delay === null ? null : new Date(Date.now() + delay),
  });
  if (status !== "pending") {
    const streak = await updateSubscriptionFailureStreak(db, d.subscription.id, status === "failed");
    const limit = o.disableAfterFailures ?? 5;
    if (status === "failed" && streak >= limit) {
      const reason = `disabled after ${streak} deliveries in a row failed every attempt (last: ${error})`;
      await db.$transaction(async (tx) => {
        await disableWebhookSubscription(tx, d.subscription.id, reason);
        await recordAudit(tx, SYSTEM_ACTOR, { projectId: d.subscription.projectId, action: "webhook.disable", subjectType: "webhook_subscription", subjectId: d.subscription.id, after: { reason } });
      });
    }
  }
  return status;
}

/** Claims and sends what is due; returns how many deliveries it handled (0: nothing due). */
export async function deliverDueWebhooks(db: Db, o: TWebhookDeliveryOptions): Promise<number> {
  const due = await claimDueWebhookDeliveries(db, o.batchSize ?? 16, o.leaseMs ?? 60_000);
  await Promise.all(due.map((d) => deliverOne(db, d, o)));
  return due.length;
}
