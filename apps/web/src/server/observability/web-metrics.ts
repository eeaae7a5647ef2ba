// Prometheus metrics of the web process: every /api/v1 operation's latency by status, authentication failures, and
// the pipeline queue depth as the API sees it (read from Redis at scrape time). Served on /api/metrics.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { serverContext } from "../context.ts";

function create() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "loraplane_web_" });
  return {
    registry,
    requests: new Histogram({
      name: "loraplane_web_http_request_duration_seconds",
      help: "REST API request duration by operation, method and status",
      labelNames: ["operation", "method", "status"] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    authFailures: new Counter({
      name: "loraplane_web_auth_failures_total",
      help: "Requests refused for missing/invalid credentials (401) or missing rights (403), by operation",
      labelNames: ["operation", "status"] as const,
      registers: [registry],
    }),
    queueJobs: new Gauge({
      name: "loraplane_web_queue_jobs",
      help: "Pipeline queue jobs by queue and state, as the API sees them (read at scrape time)",
      labelNames: ["queue", "state"] as const,
      registers: [registry],
      async collect() {
        const queue = serverContext().queue();
        for (const q of [queue.stages, queue.runs]) {
          const counts = await q.getJobCounts("waiting", "active", "delayed", "failed").catch(() => null);
          if (!counts) continue;
          for (const [state, n] of Object.entries(counts)) this.set({ queue: q.name, state }, n);
        }
      },
    }),
  };
}

// One registry per process even when Next bundles this module into several route chunks.
const holder = globalThis as typeof globalThis & { __loraplaneWebMetrics?: ReturnType<typeof create> };
export function webMetrics(): ReturnType<typeof create> {
  return (holder.__loraplaneWebMetrics ??= create());
}

/** Wraps a route handler so every answer is counted, errors included (the builder maps them to responses). */
export function withRequestMetrics(operation: string, handler: (req: Request) => Promise<Response>): (req: Request) => Promise<Response> {
  return async (req) => {
    const started = performance.now();
    const res = await handler(req);
    const m = webMetrics();
    const status = String(res.status);
    m.requests.observe({ operation, method: req.method, status }, (performance.now() - started) / 1000);
    if (res.status === 401 || res.status === 403) m.authFailures.inc({ operation, status });
    return res;
  };
}
