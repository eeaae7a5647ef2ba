// Readiness (issue 17 item 14): /api/ready exercises the database and the authentication path; /api/health only
// says the process answers. A hung auth path or an unreachable database is a 503 naming the check, within the timeout.
import { loadWebEnv } from "@loraplane/config";
import { createPrismaClient } from "@loraplane/db";
import { useTestDb } from "@loraplane/db/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { GET } from "../../src/app/api/ready/route.ts";
import { checkReadiness } from "../../src/server/api/readiness.ts";
import { configureEnv } from "./fixtures.ts";

const t = useTestDb("web-ready");

beforeAll(async () => {
  configureEnv(t.url);
  // The first query of a new pool connects first; on a busy machine that alone can take seconds.
  await t.db.$queryRawUnsafe("SELECT 1");
});

describe("readiness", () => {
  it("answers 200 with every check passing on a working server", async () => {
    const res = await GET();
    const body = await res.json();
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body.status).toBe("ready");
    expect(body.checks.map((c: { name: string; ok: boolean }) => [c.name, c.ok])).toEqual([
      ["database", true],
      ["auth", true],
    ]);
  });

  it("is not ready when the auth path hangs (as after the prototype pollution), within its timeout", async () => {
    const started = Date.now();
    const result = await checkReadiness({ db: t.db, env: loadWebEnv(), timeoutMs: 1500, authenticate: () => new Promise(() => undefined) });
    expect(Date.now() - started).toBeLessThan(4000);
    expect(result.ready).toBe(false);
    expect(result.checks.find((c) => c.name === "auth")).toMatchObject({ ok: false, error: "no answer within 1500 ms" });
    expect(result.checks.find((c) => c.name === "database")?.ok).toBe(true);
  });

  it("is not ready when the auth path accepts an unknown token", async () => {
    const result = await checkReadiness({ db: t.db, env: loadWebEnv(), authenticate: async () => null });
    expect(result.ready).toBe(false);
    expect(result.checks.find((c) => c.name === "auth")?.error).toContain("accepted");
  });

  it("is not ready when the database does not answer", async () => {
    const env = loadWebEnv();
    const dead = createPrismaClient({ url: "postgresql://nobody@127.0.0.1:1/none", poolSize: 1 });
    try {
      const result = await checkReadiness({ db: dead, env, timeoutMs: 2000 });
      expect(result.ready).toBe(false);
      expect(result.checks.find((c) => c.name === "database")?.ok).toBe(false);
    } finally {
      await dead.$disconnect().catch(() => undefined);
    }
  });
});
