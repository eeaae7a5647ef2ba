// Issue #11 finding 6: failed password sign-ins are throttled per account and per client address with exponential
// backoff, audited, and a throttled attempt is refused before any argon2 hash is computed.
import { useTestDb } from "@loraplane/db/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { createUser, LOGIN_THROTTLE, MAX_CONCURRENT_PASSWORD_CHECKS, passwordCheckHighWater, passwordVerificationCount, signInWithPassword } from "../../src/index.ts";

const t = useTestDb("login-throttle");
const PASSWORD = "correct horse battery staple";
const system = { type: "system" as const, userId: null };

beforeAll(async () => {
  await createUser(t.db, { email: "alice@throttle.test", role: "viewer", password: PASSWORD }, system);
  await createUser(t.db, { email: "bob@throttle.test", role: "viewer", password: PASSWORD }, system);
});

describe("password sign-in throttling", () => {
  it("locks an account after repeated failures, without computing argon2 while locked, and audits both", async () => {
    const t0 = new Date("2026-01-01T10:00:00Z");
    const { threshold, baseLockS } = LOGIN_THROTTLE.account;
    for (let i = 0; i < threshold; i++) {
      const r = await signInWithPassword(t.db, { email: "alice@throttle.test", password: `wrong-${i}` }, { ip: `10.0.0.${i}` }, t0);
      expect(r).toEqual({ ok: false, reason: "invalid" });
    }
    // Locked now: even the right password is refused, and no hash is computed for it.
    const hashesBefore = passwordVerificationCount();
    const locked = await signInWithPassword(t.db, { email: "Alice@Throttle.test", password: PASSWORD }, { ip: "10.0.9.9" }, new Date(t0.getTime() + 1000));
    expect(locked).toEqual({ ok: false, reason: "throttled", retryAfterS: baseLockS - 1 });
    for (let i = 0; i < 50; i++) await signInWithPassword(t.db, { email: "alice@throttle.test", password: "x" }, { ip: "10.0.9.9" }, new Date(t0.getTime() + 2000));
    expect(passwordVerificationCount()).toBe(hashesBefore);

    const user = await t.db.user.findUniqueOrThrow({ where: { email: "alice@throttle.test" } });
    const failed = await t.db.auditLog.findMany({ where: { action: "auth.login_failed", subjectId: user.id }, orderBy: { id: "asc" } });
    expect(failed).toHaveLength(threshold);
    expect(failed[0]!.ip).toBe("10.0.0.0");
    expect(JSON.stringify(failed.map((f) => f.after))).not.toContain("wrong-");
    expect(await t.db.auditLog.count({ where: { action: "auth.login_throttled", subjectId: user.id } })).toBe(51);

    // After the lock runs out the right password works, and resets the account's count.
    const later = new Date(t0.getTime() + (baseLockS + 1) * 1000);
    const ok = await signInWithPassword(t.db, { email: "alice@throttle.test", password: PASSWORD }, { ip: "10.0.9.9" }, later);
    expect(ok.ok).toBe(true);
    expect(await t.db.loginThrottle.count({ where: { key: "account:alice@throttle.test" } })).toBe(0);
  });

  it("backs off exponentially: each failure after the threshold doubles the lock", async () => {
    let now = new Date("2026-01-02T10:00:00Z").getTime();
    const { threshold, baseLockS, maxLockS } = LOGIN_THROTTLE.account;
    const locks: number[] = [];
    for (let i = 0; i < threshold + 6; i++) {
      const r = await signInWithPassword(t.db, { email: "bob@throttle.test", password: "nope" }, {}, new Date(now));
      expect(r.ok).toBe(false);
      const row = await t.db.loginThrottle.findUniqueOrThrow({ where: { key: "account:bob@throttle.test" } });
      if (row.lockedUntil) {
        const lockS = Math.round((row.lockedUntil.getTime() - now) / 1000);
        locks.push(lockS);
        // Inside the lock: throttled.
        const during = await signInWithPassword(t.db, { email: "bob@throttle.test", password: "nope" }, {}, new Date(now + 1000));
        expect(during).toMatchObject({ ok: false, reason: "throttled" });
        now = row.lockedUntil.getTime() + 1000;
      } else now += 1000;
    }
    expect(locks).toEqual([baseLockS, baseLockS * 2, baseLockS * 4, baseLockS * 8, baseLockS * 16, Math.min(maxLockS, baseLockS * 32), Math.min(maxLockS, baseLockS * 64)].slice(0, locks.length));
    expect(locks.length).toBe(7);
    expect(Math.max(...locks)).toBeLessThanOrEqual(maxLockS);
  });

  it("throttles a client address that tries many accounts (password spraying)", async () => {
    const now = new Date("2026-01-03T10:00:00Z");
    const { threshold } = LOGIN_THROTTLE.ip;
    for (let i = 0; i < threshold; i++) {
      const r = await signInWithPassword(t.db, { email: `nobody-${i}@throttle.test`, password: "guess" }, { ip: "203.0.113.7" }, now);
      expect(r).toEqual({ ok: false, reason: "invalid" });
    }
    const hashesBefore = passwordVerificationCount();
    const sprayed = await signInWithPassword(t.db, { email: "fresh@throttle.test", password: "guess" }, { ip: "203.0.113.7" }, now);
    expect(sprayed).toMatchObject({ ok: false, reason: "throttled" });
    expect(passwordVerificationCount()).toBe(hashesBefore);
    // Another address is unaffected.
    const other = await signInWithPassword(t.db, { email: "fresh@throttle.test", password: "guess" }, { ip: "203.0.113.8" }, now);
    expect(other).toEqual({ ok: false, reason: "invalid" });
  });

  it("bounds the argon2 work in flight: a burst over many accounts and no address is refused past the budget", async () => {
    const now = new Date("2026-01-04T10:00:00Z");
    const before = passwordVerificationCount();
    const results = await Promise.all(
      Array.from({ length: 120 }, (_, i) => signInWithPassword(t.db, { email: `spray-${i}@throttle.test`, password: "guess" }, {}, now)),
    );
    const throttled = results.filter((r) => !r.ok && r.reason === "throttled").length;
    expect(throttled).toBeGreaterThan(0);
    expect(passwordVerificationCount() - before).toBe(120 - throttled);
    expect(passwordCheckHighWater()).toBeLessThanOrEqual(MAX_CONCURRENT_PASSWORD_CHECKS);
  });
});
