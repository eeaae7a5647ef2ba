import { createHmac, timingSafeEqual } from "node:crypto";

// Standard Webhooks (https://www.standardwebhooks.com): headers webhook-id, webhook-timestamp and webhook-signature,
// the signature being "v1," + base64(HMAC-SHA256(secret, `${id}.${timestamp}.${body}`)). During a secret rotation
// both secrets sign and the header carries both signatures, space-separated, so a receiver holding either verifies.

export function signWebhook(secrets: readonly string[], id: string, timestampS: number, body: string): string {
  return secrets.map((s) => `v1,${createHmac("sha256", s).update(`${id}.${timestampS}.${body}`).digest("base64")}`).join(" ");
}

export function webhookHeaders(secrets: readonly string[], id: string, timestampS: number, body: string): Record<string, string> {
  return {
    "content-type": "application/json",
    "user-agent": "Loraplane-Webhooks/1",
    "webhook-id": id,
    "webhook-timestamp": String(timestampS),
    "webhook-signature": signWebhook(secrets, id, timestampS, body),
  };
}

/**
 * What a receiver does (also used by our tests): recompute the signature, compare in constant time, and refuse a
 * timestamp outside the tolerance (replays).
 */
export function verifyWebhookSignature(secret: string, headers: Record<string, string | string[] | undefined>, body: string, nowS = Math.floor(Date.now() / 1000), toleranceS = 300): boolean {
  const id = headers["webhook-id"];
  const ts = Number(headers["webhook-timestamp"]);
  const sig = headers["webhook-signature"];
  if (typeof id !== "string" || typeof sig !== "string" || !Number.isFinite(ts) || Math.abs(nowS - ts) > toleranceS) return false;
  const expected = Buffer.from(signWebhook([secret], id, ts, body).slice(3), "base64");
  return sig.split(" ").some((part) => {
    if (!part.startsWith("v1,")) return false;
    const got = Buffer.from(part.slice(3), "base64");
    return got.length === expected.length && timingSafeEqual(got, expected);
  });
}
