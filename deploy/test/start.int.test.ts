// The pieces of `npm start` that provide storage and run processes, exercised for real on test ports (20000–20999):
// the embedded Postgres (first start initialises, second reuses the data), a local redis-server, and the supervisor's
// ordered shutdown.
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { probePostgres, startEmbeddedPostgres } from "../../scripts/start/postgres.ts";
import { Supervisor } from "../../scripts/start/processes.ts";
import { hasRedisServer, probeRedis, redisServerArgs, waitForRedis } from "../../scripts/start/redis.ts";
import { checkNode, parseVersion } from "../../scripts/start/versions.ts";

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "lp-start-"));
  dirs.push(dir);
  return dir;
}
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe("version checks", () => {
  it("accepts Node >= 20.19 and names what to install otherwise", () => {
    expect(checkNode("20.19.0")).toBeNull();
    expect(checkNode("22.1.0")).toBeNull();
    expect(checkNode("20.18.3")).toMatch(/install Node.js >= 20.19/);
    expect(parseVersion("Python 3.11.2")).toEqual({ major: 3, minor: 11, patch: 2 });
  });
});

describe("embedded Postgres", () => {
  it("initialises on first start, keeps data across a restart, and reports a wrong password as reachable", async () => {
    const dir = await tempDir();
    // Postgres runs as the 'postgres' user when we are root; it must be able to reach the data folder.
    await import("node:fs/promises").then((fs) => fs.chmod(dir, 0o755));
    const options = { dataDir: path.join(dir, "postgres"), port: 20433, password: "test-password-123", log: () => {} };
    const first = await startEmbeddedPostgres(options);
    try {
      const client = new pg.Client({ connectionString: first.url.replace("/loraplane", "/postgres") });
      await client.connect();
      await client.query("CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)");
      await client.end();
      const wrong = await probePostgres(first.url.replace("test-password-123", "nope"));
      expect(wrong).toMatchObject({ ok: false, reachable: true });
    } finally {
      await first.stop();
    }
    expect(await probePostgres(first.url)).toMatchObject({ ok: false, reachable: false });

    const second = await startEmbeddedPostgres(options);
    try {
      const client = new pg.Client({ connectionString: second.url.replace("/loraplane", "/postgres") });
      await client.connect();
      expect((await client.query("SELECT v FROM kept")).rows).toEqual([{ v: 42 }]);
      await client.end();
    } finally {
      await second.stop();
    }
  });
});

describe("local redis-server and the supervisor", () => {
  it("starts redis-server with a data folder and stops processes in the given order", async () => {
    expect(hasRedisServer()).toBe(true);
    const dir = await tempDir();
    const out = new PassThrough();
    const lines: string[] = [];
    out.on("data", (chunk: Buffer) => lines.push(...chunk.toString().trim().split("\n")));
    const supervisor = new Supervisor(out);
    const url = "redis://127.0.0.1:20379";
    expect((await probeRedis(url)).ok).toBe(false);
    supervisor.start("redis", "redis-server", await redisServerArgs(path.join(dir, "redis"), 20379));
    // A process that logs its SIGTERM, so the order of stops is observable.
    supervisor.start("sleeper", process.execPath, ["-e", "process.on('SIGTERM',()=>{console.log('sleeper got SIGTERM');process.exit(0)});setInterval(()=>{},1000);console.log('up')"]);
    expect(await waitForRedis(url, 10_000)).toBe(true);
    for (let i = 0; i < 100 && !lines.includes("[sleeper] up"); i++) await new Promise((r) => setTimeout(r, 50));
    const order: string[] = [];
    await supervisor.stop(["sleeper", "redis"], 5000, (line) => order.push(line));
    expect(order).toEqual(["stopping sleeper…", "stopping redis…"]);
    expect((await probeRedis(url)).ok).toBe(false);
    expect(lines).toContain("[sleeper] sleeper got SIGTERM");
  });
});
