// Issue #11 authentication abuse: sign-in throttling (finding 6) through next-auth's real credentials callback.
import { useTestDb } from "@loraplane/db/testing";
import { createUser, LOGIN_THROTTLE, passwordVerificationCount } from "@loraplane/services";
import { beforeAll, describe, expect, it } from "vitest";
import { authOptions } from "../../src/server/auth/auth-options.ts";
import { clientIp } from "../../src/server/auth/client-ip.ts";
import { configureEnv } from "./fixtures.ts";
import { credentialsSignIn } from "./nextauth-driver.ts";

const t = useTestDb("web-sec-auth");
const PASSWORD = "a long enough password 1";
const system = { type: "system" as const, userId: null };

beforeAll(async () => {
  configureEnv(t.url);
  process.env.TRUSTED_PROXY = "true";
  await createUser(t.db, { email: "carol@auth.test", role: "viewer", password: PASSWORD }, system);
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
