// /health fails when the process cannot do its job: Postgres or Redis unreachable, or consumption stuck — jobs have
// been waiting longer than `stuckAfterMs` while this worker had free slots and started nothing (langfuse's
// failIfQueueConsumptionStuck). /metrics serves Prometheus metrics.
import { createServer, type Server } from "node:http";
import type { Queue } from "bullmq";
import type { Registry } from "prom-client";

export interface THealthSource {
  checkDb(): Promise<void>;
  checkRedis(): Promise<void>;
  queues: Queue[];
  /** Time the last job started in this process. */
  lastJobStartedAt(): number;
  hasFreeSlots(): boolean;
  stuckAfterMs: number;
  registry: Registry;
  setWaiting?(queue: string, n: number): void;
}

export async function healthReport(src: THealthSource): Promise<{ ok: boolean; checks: Record<string, string> }> {
  const checks: Record<string, string> = {};
  let ok = true;
  const run = async (name: string, fn: () => Promise<string>) => {
    try {
      checks[name] = await fn();
    } catch (error) {
      ok = false;
      checks[name] = `fail: ${(error as Error).message}`;
    }
  };
  await run("postgres", async () => (await src.checkDb(), "ok"));
  await run("redis", async () => (await src.checkRedis(), "ok"));
  await run("consumption", async () => {
    for (const q of src.queues) {
      const [oldest] = await q.getJobs(["wait"], 0, 0, true);
      const waiting = await q.getWaitingCount();
      src.setWaiting?.(q.name, waiting);
      const age = oldest ? Date.now() - oldest.timestamp : 0;
      if (oldest && age > src.stuckAfterMs && src.hasFreeSlots() && Date.now() - src.lastJobStartedAt() > src.stuckAfterMs) {
        throw new Error(`${q.name}: ${waiting} job(s) waiting, oldest for ${Math.round(age / 1000)}s, and this worker started none`);
      }
    }
    return "ok";
  });
  return { ok, checks };
}

export function startHealthServer(port: number, host: string, src: THealthSource): Promise<Server> {
  const server = createServer((req, res) => {
    const url = req.url ?? "/";
    if (url.startsWith("/health")) {
      healthReport(src).then(
        (r) => {
          res.writeHead(r.ok ? 200 : 503, { "content-type": "application/json" });
          res.end(JSON.stringify(r));
        },
        (error: unknown) => {
          res.writeHead(503, { "content-type": "application/json" });
          res.end(JSON.stringify({ ok: false, error: (error as Error).message }));
        },
      );
    } else if (url.startsWith("/metrics")) {
      src.registry.metrics().then((text) => {
        res.writeHead(200, { "content-type": src.registry.contentType });
        res.end(text);
      }, () => res.writeHead(500).end());
    } else {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}
