// Drives next-auth's own request handler (the AuthHandler that `app/api/auth/[...nextauth]/route.ts` reaches through
// NextAuth()) with the app's real options, outside Next's request context: CSRF cookie, credentials callback, OAuth
// sign-in and callback all run the library's code, not a re-implementation.
import { createRequire } from "node:module";
import path from "node:path";
import type { NextAuthOptions } from "next-auth";

type TCookie = { name: string; value: string; options?: Record<string, unknown> };
type TResponse = { status?: number; redirect?: string; cookies?: TCookie[]; body?: unknown; headers?: { key: string; value: string }[] };
type TAuthHandler = (params: { req: Record<string, unknown>; options: NextAuthOptions }) => Promise<TResponse>;

const require = createRequire(import.meta.url);
// `next-auth/core` is not in the package's exports map; load the file the `next` entry itself requires.
const { AuthHandler } = require(path.join(path.dirname(require.resolve("next-auth")), "core", "index.js")) as { AuthHandler: TAuthHandler };

/** A browser's cookie jar for one origin, enough for next-auth's state, PKCE, CSRF and session cookies. */
export class Jar {
  readonly cookies = new Map<string, string>();
  take(cookies: TCookie[] | undefined) {
    for (const c of cookies ?? []) {
      const maxAge = c.options?.maxAge;
      const expires = c.options?.expires as Date | undefined;
      if (maxAge === 0 || (expires && new Date(expires).getTime() <= Date.now()) || c.value === "") this.cookies.delete(c.name);
      else this.cookies.set(c.name, c.value);
    }
  }
  record(): Record<string, string> {
    return Object.fromEntries(this.cookies);
  }
}

export async function nextAuth(
  options: NextAuthOptions,
  jar: Jar,
  req: { action: string; providerId?: string; method: "GET" | "POST"; body?: Record<string, string>; query?: Record<string, string>; headers?: Record<string, string> },
  origin = "http://127.0.0.1:3100",
): Promise<TResponse> {
  const res = await AuthHandler({
    req: { origin, cookies: jar.record(), headers: { host: new URL(origin).host, ...req.headers }, query: req.query ?? {}, body: req.body ?? {}, method: req.method, action: req.action, providerId: req.providerId, error: req.query?.error },
    options,
  });
  jar.take(res.cookies);
  return res;
}

/** Sign in through the credentials provider exactly as the login form does (CSRF token, then the callback). */
export async function credentialsSignIn(options: NextAuthOptions, email: string, password: string, headers: Record<string, string> = {}) {
  const jar = new Jar();
  const csrf = await nextAuth(options, jar, { action: "csrf", method: "GET" });
  const { csrfToken } = csrf.body as { csrfToken: string };
  const res = await nextAuth(options, jar, { action: "callback", providerId: "credentials", method: "POST", body: { csrfToken, email, password, json: "true" }, headers });
  const error = res.redirect ? new URL(res.redirect).searchParams.get("error") : null;
  return { res, jar, error, session: jar.cookies.get("next-auth.session-token") ?? null };
}
