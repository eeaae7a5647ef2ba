// Finds the Redis the product will use, or starts a local redis-server with its data in .loraplane/redis.
import { spawnSync } from "node:child_process";
import { mkdir } from "node:fs/promises";
import net from "node:net";
import path from "node:path";

/** Sends PING over the wire protocol; any RESP reply (+PONG, -NOAUTH …) proves a Redis is listening. */
export function probeRedis(redisUrl: string, timeoutMs = 2000): Promise<{ ok: true } | { ok: false; message: string }> {
  const url = new URL(redisUrl);
  const port = Number(url.port || 6379);
  const host = url.hostname || "127.0.0.1";
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (result: { ok: true } | { ok: false; message: string }) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(timeoutMs, () => done({ ok: false, message: `no answer from ${host}:${port} within ${timeoutMs} ms` }));
    socket.on("error", (error) => done({ ok: false, message: error.message }));
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.once("data", (data) => {
      const reply = data.toString();
      if (/^[+-]/.test(reply)) done({ ok: true });
      else done({ ok: false, message: `${host}:${port} answered but not like Redis` });
    });
  });
}

export function hasRedisServer(): boolean {
  const result = spawnSync("redis-server", ["--version"], { encoding: "utf8" });
  return !result.error && result.status === 0;
}

/** Arguments for a redis-server that keeps BullMQ's data across restarts in `dataDir`, on loopback only. */
export async function redisServerArgs(dataDir: string, port: number): Promise<string[]> {
  const dir = path.resolve(dataDir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  return [
    "--port", String(port),
    "--bind", "127.0.0.1",
    "--dir", dir,
    "--appendonly", "yes",
    "--save", "",
    "--daemonize", "no",
    // BullMQ requires that Redis never evicts its keys.
    "--maxmemory-policy", "noeviction",
  ];
}

export async function waitForRedis(redisUrl: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await probeRedis(redisUrl, 500)).ok) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}
