// Issue #11 authentication abuse: sign-in throttling (finding 6) through next-auth's real credentials callback.
import { useTestDb } from "@loraplane/db/testing";
import { ZWebEnv } from "@loraplane/config";
import { createUser, LOGIN_THROTTLE, passwordVerificationCount, updateUser } from "@loraplane/services";
import { encode } from "next-auth/jwt";
import { beforeAll, describe, expect, it } from "vitest";
import { authOptions } from "../../src/server/auth/auth-options.ts";
import { clientIp } from "../../src/server/auth/client-ip.ts";
import { API_ROUTES } from "../../src/server/routes/index.ts";
import { call, configureEnv, SECRET } from "./fixtures.ts";
import { credentialsSignIn, nextAuth } from "./nextauth-driver.ts";

const getMe = API_ROUTES.find((r) => r.def.operationId === "getMe")!.handler;
const me = (cookie: string) => call(getMe, "get", "/api/v1/me", { headers: { cookie } });

const t = useTestDb("web-sec-auth");
const PASSWORD = "a long enough password 1";
const system = { type: "system" as const, userId: null };

beforeAll(async () => {
  configureEnv(t.url);
  process.env.TRUSTED_PROXY = "true";
  await createUser(t.db, { email: "carol@auth.test", role: "viewer", password: PASSWORD }, system);
  await createUser(t.db, { email: "dave@auth.test", role: "viewer", password: PASSWORD }, system);
});

describe("credentials sign-in (next-auth's handler, the app's options)", () => {
  it("signs in with the right password and issues a session cookie", async () => {
    const { session, error } = await credentialsSignIn(authOptions(), "carol@auth.test", PASSWORD);
    expect(error).toBeNull();
    expect(session).toBeTruthy();
  });

  it("throttles repeated failures per account: no argon2 while locked, the form says when to retry, all audited", async () => {
    for (let i = 0; i < LOGIN_THROTTLE.account.threshold; i++) {
      const { error, session } = await credentialsSignIn(authOptions(), "carol@auth.test", `wrong ${i}`, { "x-forwarded-for": "198.51.100.20, 192.0.2.1" });
      expect(error).toBe("CredentialsSignin");
      expect(session).toBeNull();
    }
    const before = passwordVerificationCount();
    const locked = await credentialsSignIn(authOptions(), "carol@auth.test", PASSWORD, { "x-forwarded-for": "192.0.2.1" });
    expect(locked.session).toBeNull();
    expect(locked.error).toMatch(/Too many failed sign-ins\. Try again in \d+ s\./);
    expect(passwordVerificationCount()).toBe(before);
    const user = await t.db.user.findUniqueOrThrow({ where: { email: "carol@auth.test" } });
    const failed = await t.db.auditLog.findMany({ where: { action: "auth.login_failed", subjectId: user.id } });
    expect(failed).toHaveLength(LOGIN_THROTTLE.account.threshold);
    // Behind the trusted proxy the right-most X-Forwarded-For entry is the client; the left ones are the client's own.
    expect(new Set(failed.map((f) => f.ip))).toEqual(new Set(["192.0.2.1"]));
    expect(await t.db.auditLog.count({ where: { action: "auth.login_throttled", subjectId: user.id } })).toBe(1);
  });
});

describe("client address (audit, per-address throttling)", () => {
  it("believes X-Forwarded-For only behind a trusted proxy, and then only its right-most entry", () => {
    expect(clientIp(new Headers({ "x-forwarded-for": "6.6.6.6" }), false)).toBeNull();
    expect(clientIp(new Headers({ "x-forwarded-for": "6.6.6.6, 192.0.2.7" }), true)).toBe("192.0.2.7");
    expect(clientIp({ "x-forwarded-for": "2001:db8::1" }, true)).toBe("2001:db8::1");
    expect(clientIp({ "x-forwarded-for": "<script>" }, true)).toBeNull();
    expect(clientIp({}, true)).toBeNull();
  });
});

describe("session lifetime (idle, absolute, sign-out, password change)", () => {
  const now = () => Math.floor(Date.now() / 1000);
  const cookieOf = async (claims: Record<string, unknown>, maxAge: number) => `next-auth.session-token=${await encode({ token: claims, secret: SECRET, maxAge })}`;

  it("defaults: 2 h idle, 24 h absolute", () => {
    const env = ZWebEnv.parse({ NEXTAUTH_SECRET: SECRET, LORAPLANE_SECRET_KEY: SECRET });
    expect(env.SESSION_IDLE_TIMEOUT_S).toBe(2 * 3600);
    expect(env.SESSION_ABSOLUTE_TIMEOUT_S).toBe(24 * 3600);
  });

  it("a session past its idle timeout or its absolute lifetime is refused", async () => {
    const dave = await t.db.user.findUniqueOrThrow({ where: { email: "dave@auth.test" } });
    expect((await me(await cookieOf({ sub: dave.id, authTime: now() }, 600))).status).toBe(200);
    // Idle: the cookie's exp (issue time + idle timeout) has passed.
    expect((await me(await cookieOf({ sub: dave.id, authTime: now() - 60 }, -60))).status).toBe(401);
    // Absolute: signed in 25 h ago, however recently refreshed.
    expect((await me(await cookieOf({ sub: dave.id, authTime: now() - 25 * 3600 }, 600))).status).toBe(401);
  });

  it("signing out ends every browser session of the user, also a copied cookie", async () => {
    const first = await credentialsSignIn(authOptions(), "dave@auth.test", PASSWORD);
    const second = await credentialsSignIn(authOptions(), "dave@auth.test", PASSWORD);
    const cookieA = `next-auth.session-token=${first.session}`;
    const cookieB = `next-auth.session-token=${second.session}`;
    expect((await me(cookieA)).status).toBe(200);
    expect((await me(cookieB)).status).toBe(200);
    // Sign out in browser A through next-auth's own sign-out route.
    const csrf = await nextAuth(authOptions(), first.jar, { action: "csrf", method: "GET" });
    await nextAuth(authOptions(), first.jar, { action: "signout", method: "POST", body: { csrfToken: (csrf.body as { csrfToken: string }).csrfToken } });
    expect(first.jar.cookies.has("next-auth.session-token")).toBe(false);
    expect((await me(cookieA)).status).toBe(401);
    expect((await me(cookieB)).status).toBe(401);
    // next-auth's own session endpoint agrees.
    const session = await nextAuth(authOptions(), second.jar, { action: "session", method: "GET" });
    expect((session.body as { user?: unknown }).user).toBeUndefined();
    // A new sign-in works.
    const third = await credentialsSignIn(authOptions(), "dave@auth.test", PASSWORD);
    expect((await me(`next-auth.session-token=${third.session}`)).status).toBe(200);
  });

  it("a password change ends the sessions signed in with the old password", async () => {
    const { session } = await credentialsSignIn(authOptions(), "dave@auth.test", PASSWORD);
    const cookie = `next-auth.session-token=${session}`;
    expect((await me(cookie)).status).toBe(200);
    const dave = await t.db.user.findUniqueOrThrow({ where: { email: "dave@auth.test" } });
    await updateUser(t.db, dave.id, { password: "another long password" }, { type: "user", userId: dave.id });
    expect((await me(cookie)).status).toBe(401);
  });
});
