import type { DbOrTx } from "../client.ts";

export type TLoginThrottleRow = { key: string; failures: number; lockedUntil: Date | null };

/** The throttle rows among `keys` whose lock has not run out at `now`. */
export function findActiveLoginLocks(db: DbOrTx, keys: string[], now: Date): Promise<TLoginThrottleRow[]> {
  return db.loginThrottle.findMany({
    where: { key: { in: keys }, lockedUntil: { gt: now } },
    select: { key: true, failures: true, lockedUntil: true },
  });
}

/**
 * Counts one failed sign-in for `key`, atomically (one statement, so concurrent failures are all counted). The count
 * restarts when the previous failure is older than `windowS`. Returns the new count.
 */
export async function countLoginFailure(db: DbOrTx, key: string, now: Date, windowS: number): Promise<number> {
  const since = new Date(now.getTime() - windowS * 1000);
  const rows = await db.$queryRaw<{ failures: number }[]>`
    INSERT INTO "LoginThrottle" ("key", "failures", "windowStart", "lockedUntil", "updatedAt")
    VALUES (${key}, 1, ${now}, NULL, ${now})
    ON CONFLICT ("key") DO UPDATE SET
      "failures" = CASE WHEN "LoginThrottle"."updatedAt" < ${since} THEN 1 ELSE "LoginThrottle"."failures" + 1 END,
      "windowStart" = CASE WHEN "LoginThrottle"."updatedAt" < ${since} THEN ${now} ELSE "LoginThrottle"."windowStart" END,
      "updatedAt" = ${now}
    RETURNING "failures"`;
  return rows[0]!.failures;
}

export async function lockLogin(db: DbOrTx, key: string, until: Date): Promise<void> {
  await db.loginThrottle.update({ where: { key }, data: { lockedUntil: until } });
}

export async function clearLoginFailures(db: DbOrTx, key: string): Promise<void> {
  await db.loginThrottle.deleteMany({ where: { key } });
}
