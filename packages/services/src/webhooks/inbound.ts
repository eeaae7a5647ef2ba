import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { type Db, findInboundWebhook, findPipelinesForPush, upsertInboundWebhook } from "@loraplane/db";
import { ForbiddenError, ValidationError } from "../errors.ts";
import { recordAudit, type TActor, type TRequestMeta } from "../audit/index.ts";
import { openSecret, sealSecret } from "./secret-box.ts";

export const INBOUND_PROVIDERS = ["gitlab", "github"] as const;
export type TInboundProvider = (typeof INBOUND_PROVIDERS)[number];

/** Creates or rotates a project's inbound hook secret; the new secret is returned once. */
export async function rotateInboundWebhookSecret(
  db: Db,
  secretKey: string,
  projectId: string,
  provider: TInboundProvider,
  actor: TActor,
  meta: TRequestMeta = {},
): Promise<{ provider: TInboundProvider; secret: string }> {
  const secret = randomBytes(24).toString("base64url");
  await db.$transaction(async (tx) => {
    const row = await upsertInboundWebhook(tx, { projectId, provider, secretCiphertext: sealSecret(secretKey, secret) });
    await recordAudit(tx, actor, { projectId, action: "inbound_webhook.rotate", subjectType: "inbound_webhook", subjectId: row.id, after: { provider } }, meta);
  });
  return { provider, secret };
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Verifies an inbound push hook: GitLab sends the shared secret in X-Gitlab-Token, GitHub an HMAC-SHA256 of the raw
 * body in X-Hub-Signature-256. An unconfigured project and a wrong secret answer the same.
 */
export async function verifyInboundWebhook(
  db: Db,
  secretKey: string,
  projectId: string,
  provider: TInboundProvider,
  headers: Headers,
  rawBody: string,
): Promise<void> {
  const row = await findInboundWebhook(db, projectId, provider);
  const secret = row ? openSecret(secretKey, row.secretCiphertext) : null;
  let ok = false;
  if (secret && provider === "gitlab") {
    ok = safeEqual(headers.get("x-gitlab-token") ?? "", secret);
  } else if (secret && provider === "github") {
    const expected = "sha256=" + createHmac("sha256", secret).update(rawBody).digest("hex");
    ok = safeEqual(headers.get("x-hub-signature-256") ?? "", expected);
  }
  if (!ok) throw new ForbiddenError("webhook signature or token does not match");
}

export type TPushEvent = { branch: string; commit: string; repo: string | null; pusher: { email: string | null; name: string | null } };

/** Extracts branch and head commit from a GitLab or GitHub push payload; other events (tags, pings) return null. */
export function parsePushEvent(provider: TInboundProvider, headers: Headers, payload: unknown): TPushEvent | null {
  const event = provider === "gitlab" ? headers.get("x-gitlab-event") : headers.get("x-github-event");
  if (provider === "gitlab" && event !== "Push Hook") return null;
  if (provider === "github" && event !== "push") return null;
  if (typeof payload !== "object" || payload === null) throw new ValidationError("payload must be a JSON object", [{ path: "", message: "not an object" }]);
  const p = payload as Record<string, unknown>;
  const ref = typeof p.ref === "string" ? p.ref : null;
  const commit = provider === "gitlab" ? p.checkout_sha ?? p.after : p.after;
  if (!ref) throw new ValidationError("push payload has no ref", [{ path: "ref", message: "required" }]);
  if (typeof commit !== "string" || !/^[0-9a-f]{7,64}$/.test(commit)) {
    throw new ValidationError("push payload has no head commit", [{ path: provider === "gitlab" ? "checkout_sha" : "after", message: "must be a commit sha" }]);
  }
  if (!ref.startsWith("refs/heads/")) return null;
  // A branch deletion reports the all-zero sha: nothing to build.
  if (/^0+$/.test(commit)) return null;
  const project = (provider === "gitlab" ? p.project : p.repository) as Record<string, unknown> | undefined;
  const repo = typeof project?.[provider === "gitlab" ? "path_with_namespace" : "full_name"] === "string"
    ? (project[provider === "gitlab" ? "path_with_namespace" : "full_name"] as string)
    : null;
  // Who pushed: GitLab sends user_email/user_username, GitHub pusher.email/pusher.name (separation of duties).
  const str = (v: unknown) => (typeof v === "string" && v.trim() ? v.trim() : null);
  const pusherObj = (p.pusher ?? {}) as Record<string, unknown>;
  const pusher =
    provider === "gitlab"
      ? { email: str(p.user_email), name: str(p.user_username) ?? str(p.user_name) }
      : { email: str(pusherObj.email), name: str(pusherObj.name) };
  return { branch: ref.slice("refs/heads/".length), commit, repo, pusher };
}

/** Pipelines of the project that follow this branch (and this repository, when the pipeline names one). */
export async function pipelinesForPush(db: Db, projectId: string, push: TPushEvent) {
  const candidates = await findPipelinesForPush(db, projectId, push.branch);
  return candidates.filter((p) => !p.gitRepo || !push.repo || p.gitRepo === push.repo);
}

export const SYSTEM_WEBHOOK_ACTOR: TActor = { type: "system", userId: null };
