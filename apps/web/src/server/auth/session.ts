import "server-only";
import { decode, encode, type JWT } from "next-auth/jwt";

/** Claims Loraplane adds to next-auth's JWT. */
export type TSessionClaims = JWT & { sub?: string; authTime?: number; expired?: boolean; epoch?: number };

export function sessionCookieName(secure: boolean): string {
  return secure ? "__Secure-next-auth.session-token" : "next-auth.session-token";
}

export function useSecureCookies(env: { NODE_ENV: string; NEXTAUTH_URL: string }): boolean {
  return env.NODE_ENV === "production" || env.NEXTAUTH_URL.startsWith("https://");
}

function parseCookies(header: string | null): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (header ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0) out.set(part.slice(0, eq).trim(), decodeURIComponent(part.slice(eq + 1).trim()));
  }
  return out;
}

/** next-auth splits large cookies into `name.0`, `name.1`, …; join them back. */
function readSessionCookie(cookies: Map<string, string>, name: string): string | null {
  const whole = cookies.get(name);
  if (whole) return whole;
  const chunks: string[] = [];
  for (let i = 0; cookies.has(`${name}.${i}`); i++) chunks.push(cookies.get(`${name}.${i}`)!);
  return chunks.length ? chunks.join("") : null;
}

/**
 * Reads and checks the session cookie. `exp` (set to iat + idle timeout each time the cookie is re-issued) enforces
 * the idle timeout; `authTime` (the sign-in moment, never refreshed) enforces the absolute one.
 */
export async function readSession(
  headers: Headers,
  options: { secret: string; secure: boolean; absoluteTimeoutS: number; now?: number },
): Promise<{ userId: string; claims: TSessionClaims } | null> {
  const raw = readSessionCookie(parseCookies(headers.get("cookie")), sessionCookieName(options.secure));
  if (!raw) return null;
  let claims: TSessionClaims | null;
  try {
    claims = (await decode({ token: raw, secret: options.secret })) as TSessionClaims | null;
  } catch {
    return null;
  }
  const now = options.now ?? Math.floor(Date.now() / 1000);
  if (!claims?.sub || claims.expired || typeof claims.authTime !== "number") return null;
  if (typeof claims.exp === "number" && claims.exp <= now) return null;
  if (now - claims.authTime > options.absoluteTimeoutS) return null;
  return { userId: claims.sub, claims };
}

/**
 * A fresh Set-Cookie that slides the idle timeout forward, issued at most every `refreshAfterS` so API traffic keeps
 * an active user signed in without rewriting the cookie on every request.
 */
export async function refreshedSessionCookie(
  claims: TSessionClaims,
  options: { secret: string; secure: boolean; idleTimeoutS: number; refreshAfterS?: number; now?: number },
): Promise<string | null> {
  const now = options.now ?? Math.floor(Date.now() / 1000);
  if (typeof claims.iat === "number" && now - claims.iat < (options.refreshAfterS ?? 300)) return null;
  const { iat: _iat, exp: _exp, jti: _jti, ...rest } = claims;
  const token = await encode({ token: rest, secret: options.secret, maxAge: options.idleTimeoutS });
  const attrs = [`Path=/`, `HttpOnly`, `SameSite=Lax`, `Max-Age=${options.idleTimeoutS}`];
  if (options.secure) attrs.push("Secure");
  return `${sessionCookieName(options.secure)}=${token}; ${attrs.join("; ")}`;
}
