import { clearLoginFailures, countLoginFailure, type Db, findActiveLoginLocks, findUserByEmail, lockLogin, type TUserRow } from "@loraplane/db";
import { recordAudit, type TRequestMeta } from "../audit/index.ts";
import { authenticatePassword } from "./users.ts";

/**
 * Backoff for failed password sign-ins, per account (e-mail) and per client address. After `threshold` failures
 * within `windowS` of each other, each further failure locks the key for `baseLockS · 2^(n − threshold)`, at most
 * `maxLockS`. While a key is locked the login is refused before any password hash is computed (argon2 is the
 * expensive part, so throttled attempts cost the server a primary-key lookup, not a hash).
 */
export const LOGIN_THROTTLE = {
  account: { threshold: 5, baseLockS: 30, maxLockS: 15 * 60 },
  ip: { threshold: 20, baseLockS: 60, maxLockS: 30 * 60 },
  // Longer than the longest lock, so the count survives a lock and the next failure doubles it.
  windowS: 60 * 60,
} as const;

/** At most this many argon2 verifications run at once (each takes ~19 MiB and a core for tens of ms)… */
export const MAX_CONCURRENT_PASSWORD_CHECKS = 4;
/** …and at most this many wait for one; beyond that a sign-in is refused as throttled, without hashing. */
export const MAX_WAITING_PASSWORD_CHECKS = 32;

const BUSY = Symbol("busy");
let active = 0;
let highWater = 0;
const waiting: (() => void)[] = [];

/** The most password checks that ran at once in this process (tests read it). */
export function passwordCheckHighWater(): number {
  return highWater;
}

async function withHashSlot<T>(fn: () => Promise<T>): Promise<T | typeof BUSY> {
  if (active >= MAX_CONCURRENT_PASSWORD_CHECKS) {
    if (waiting.length >= MAX_WAITING_PASSWORD_CHECKS) return BUSY;
    // The releasing caller hands its slot over directly (active stays the same), so no newcomer can overtake.
    await new Promise<void>((resolve) => waiting.push(resolve));
  } else active++;
  highWater = Math.max(highWater, active);
  try {
    return await fn();
  } finally {
    const next = waiting.shift();
    if (next) next();
    else active--;
  }
}

export type TSignInResult = { ok: true; user: TUserRow } | { ok: false; reason: "invalid" } | { ok: false; reason: "throttled"; retryAfterS: number };

const accountKey = (email: string) => `account:${email.trim().toLowerCase()}`;
const ipKey = (ip: string) => `ip:${ip}`;

function lockSeconds(failures: number, policy: { threshold: number; baseLockS: number; maxLockS: number }): number {
  if (failures < policy.threshold) return 0;
  return Math.min(policy.maxLockS, policy.baseLockS * 2 ** Math.min(failures - policy.threshold, 20));
}

const system = { type: "system" as const, userId: null };

/**
 * The credentials sign-in: throttle check → argon2 → outcome, every failure and every throttled attempt audited
 * (`auth.login_failed`, `auth.login_throttled`, with the e-mail and client address; never the password).
 */
export async function signInWithPassword(
  db: Db,
  input: { email: string; password: string },
  meta: TRequestMeta = {},
  now: Date = new Date(),
): Promise<TSignInResult> {
  const email = input.email.trim().toLowerCase();
  const keys = [accountKey(email), ...(meta.ip ? [ipKey(meta.ip)] : [])];
  const locks = await findActiveLoginLocks(db, keys, now);
  if (locks.length > 0) {
    const until = Math.max(...locks.map((l) => l.lockedUntil!.getTime()));
    const retryAfterS = Math.max(1, Math.ceil((until - now.getTime()) / 1000));
    const subject = await findUserByEmail(db, email);
    await recordAudit(
      db,
      system,
      { action: "auth.login_throttled", subjectType: "user", subjectId: subject?.id ?? null, after: { email, lockedKeys: locks.map((l) => l.key.split(":")[0]), retryAfterS } },
      meta,
    );
    return { ok: false, reason: "throttled", retryAfterS };
  }

  const checked = await withHashSlot(() => authenticatePassword(db, email, input.password));
  if (checked === BUSY) {
    // More sign-ins in flight than the CPU budget for argon2: refuse without hashing (also when spread over accounts
    // and addresses, e.g. spraying from many addresses without TRUSTED_PROXY).
    await recordAudit(db, system, { action: "auth.login_throttled", subjectType: "user", subjectId: null, after: { email, lockedKeys: ["server"], retryAfterS: 1 } }, meta);
    return { ok: false, reason: "throttled", retryAfterS: 1 };
  }
  const user = checked;
  if (user) {
    await clearLoginFailures(db, accountKey(email));
    return { ok: true, user };
  }

  const failures: Record<string, number> = {};
  const counted: ["account" | "ip", string][] = [["account", accountKey(email)], ...(meta.ip ? [["ip", ipKey(meta.ip)] as ["ip", string]] : [])];
  for (const [kind, key] of counted) {
    const n = await countLoginFailure(db, key, now, LOGIN_THROTTLE.windowS);
    failures[kind] = n;
    const lockS = lockSeconds(n, LOGIN_THROTTLE[kind]);
    if (lockS > 0) await lockLogin(db, key, new Date(now.getTime() + lockS * 1000));
  }
  const subject = await findUserByEmail(db, email);
  await recordAudit(db, system, { action: "auth.login_failed", subjectType: "user", subjectId: subject?.id ?? null, after: { email, failures } }, meta);
  return { ok: false, reason: "invalid" };
}
