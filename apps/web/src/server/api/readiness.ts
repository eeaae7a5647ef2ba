import "server-only";
import { randomBytes } from "node:crypto";
import type { TWebEnv } from "@loraplane/config";
import type { Db } from "@loraplane/db";
import { authenticate, InvalidCredentialsError } from "../auth/principal.ts";

export type TReadinessCheck = { name: "database" | "auth"; ok: boolean; ms: number; error?: string };
export type TReadiness = { ready: boolean; checks: TReadinessCheck[] };

type TDeps = { db: Db; env: TWebEnv; authenticate?: typeof authenticate; timeoutMs?: number };

async function timed(name: TReadinessCheck["name"], timeoutMs: number, fn: () => Promise<void>): Promise<TReadinessCheck> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      fn(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { name, ok: true, ms: Math.round(performance.now() - started) };
  } catch (error) {
    return { name, ok: false, ms: Math.round(performance.now() - started), error: error instanceof Error ? error.message : String(error) };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Readiness, unlike liveness (/api/health), exercises what every API call needs: a database round trip and the
 * authentication path itself — a well-formed API token that exists nowhere goes through parsing, hashing, the token
 * cache and the database lookup, and must be refused. A process whose authenticated calls hang or fail is not ready.
 */
export async function checkReadiness(deps: TDeps): Promise<TReadiness> {
  const timeoutMs = deps.timeoutMs ?? 3000;
  const auth = deps.authenticate ?? authenticate;
  const checks = await Promise.all([
    timed("database", timeoutMs, async () => {
      const rows = await deps.db.$queryRawUnsafe<{ one: number }[]>("SELECT 1 AS one");
      if (rows[0]?.one !== 1) throw new Error("unexpected answer to SELECT 1");
    }),
    timed("auth", timeoutMs, async () => {
      const probe = `lp_${randomBytes(32).toString("base64url")}`;
      try {
        await auth(deps.db, deps.env, new Headers({ authorization: `Bearer ${probe}` }));
      } catch (error) {
        if (error instanceof InvalidCredentialsError) return;
        throw error;
      }
      throw new Error("an unknown API token was accepted");
    }),
  ]);
  return { ready: checks.every((c) => c.ok), checks };
}
