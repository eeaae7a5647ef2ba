import "server-only";
import type { TWebEnv } from "@loraplane/config";
import { type Db, findSessionUser, type Role } from "@loraplane/db";
import { authenticateApiToken } from "@loraplane/services";
import { readSession, refreshedSessionCookie, useSecureCookies } from "./session.ts";

export type TPrincipal = {
  userId: string;
  email: string;
  globalRole: Role;
  via: "session" | "token";
  tokenId: string | null;
  /** Token scopes; null for browser sessions (they act with the user's full roles). */
  scopes: string[] | null;
  /** A token bound to one project cannot reach any other. */
  tokenProjectId: string | null;
  /** Set-Cookie value that slides the session's idle timeout, when due. */
  refreshCookie: string | null;
};

export class InvalidCredentialsError extends Error {}

function bearer(headers: Headers): string | null {
  const value = headers.get("authorization");
  if (!value) return null;
  const match = /^Bearer\s+(\S+)$/i.exec(value.trim());
  if (!match) throw new InvalidCredentialsError("Authorization header must be 'Bearer <token>'");
  return match[1]!;
}

/**
 * Who is calling: an API token in Authorization wins over a session cookie. A token that was sent but is unknown,
 * revoked or expired is an error (not a fall-back to the cookie), so a CI job with a dead token fails loudly.
 */
export async function authenticate(db: Db, env: TWebEnv, headers: Headers): Promise<TPrincipal | null> {
  const secret = bearer(headers);
  if (secret) {
    const identity = await authenticateApiToken(db, secret);
    if (!identity) throw new InvalidCredentialsError("the API token is unknown, revoked or expired");
    return {
      userId: identity.userId,
      email: identity.email,
      globalRole: identity.globalRole,
      via: "token",
      tokenId: identity.tokenId,
      scopes: identity.scopes,
      tokenProjectId: identity.projectId,
      refreshCookie: null,
    };
  }
  const secure = useSecureCookies(env);
  const session = await readSession(headers, {
    secret: env.NEXTAUTH_SECRET,
    secure,
    absoluteTimeoutS: env.SESSION_ABSOLUTE_TIMEOUT_S,
  });
  if (!session) return null;
  const user = await findSessionUser(db, session.userId);
  // A session issued before the user's last sign-out-everywhere or password change is over.
  if (!user || user.disabledAt || user.sessionEpoch !== (session.claims.epoch ?? 0)) return null;
  return {
    userId: user.id,
    email: user.email,
    globalRole: user.role,
    via: "session",
    tokenId: null,
    scopes: null,
    tokenProjectId: null,
    refreshCookie: await refreshedSessionCookie(session.claims, { secret: env.NEXTAUTH_SECRET, secure, idleTimeoutS: env.SESSION_IDLE_TIMEOUT_S }),
  };
}

/**
 * CSRF defence for cookie-authenticated writes: browsers always send Origin on cross-site POST/PUT/PATCH/DELETE, and
 * SameSite=Lax already withholds the cookie from most of them; a request whose Origin is not ours is refused.
 */
export function sameOrigin(headers: Headers, requestUrl: string, publicUrl: string): boolean {
  const origin = headers.get("origin");
  if (!origin) return headers.get("sec-fetch-site") === "same-origin";
  const allowed = new Set([new URL(publicUrl).origin, new URL(requestUrl).origin]);
  const host = headers.get("x-forwarded-host") ?? headers.get("host");
  if (host) allowed.add(`${headers.get("x-forwarded-proto") ?? new URL(requestUrl).protocol.replace(":", "")}://${host}`);
  return allowed.has(origin);
}
