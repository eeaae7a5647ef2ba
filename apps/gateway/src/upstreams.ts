import { Pool } from "undici";

/**
 * One keep-alive connection pool per upstream origin, created on first use and kept across routing changes.
 * `connections: null` (the default) opens as many connections as there are concurrent requests: the upstream (vLLM)
 * decides what it admits and queues the rest where its autoscaler sees them (num_requests_waiting). A cap here would
 * be a hidden queue: with 128 connections, stream 129 waits for a whole generation to finish.
 */
export class Upstreams {
  private pools = new Map<string, Pool>();

  constructor(private readonly options: { connections: number | null; connectTimeoutMs: number }) {}

  /** Per origin: requests waiting for a connection (queued, or written to none yet) and open connections. */
  stats(): { origin: string; waiting: number; connected: number }[] {
    return [...this.pools].map(([origin, p]) => {
      const st = p.stats;
      return { origin, waiting: st.pending, connected: st.connected };
    });
  }

  pool(origin: string): Pool {
    let p = this.pools.get(origin);
    if (!p) {
      p = new Pool(origin, {
        connections: this.options.connections,
        pipelining: 1,
        keepAliveTimeout: 30_000,
        keepAliveMaxTimeout: 600_000,
        connect: { timeout: this.options.connectTimeoutMs },
      });
      this.pools.set(origin, p);
    }
    return p;
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.close().catch(() => {})));
    this.pools.clear();
  }
}

/** Splits an upstream URL into the pool origin and a path prefix ("http://svc:8000/base" → origin, "/base"). */
export function splitUpstream(url: string): { origin: string; basePath: string } {
  const u = new URL(url);
  return { origin: u.origin, basePath: u.pathname.replace(/\/+$/, "") };
}
