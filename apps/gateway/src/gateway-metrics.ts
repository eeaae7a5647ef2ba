import client from "prom-client";
import type { TOutcome } from "./window-recorder.ts";

export interface TVariantMetrics {
  duration: client.Histogram.Internal<string>;
  ttft: client.Histogram.Internal<string>;
  tokens: client.Counter.Internal;
  retries: client.Counter.Internal;
  pinned: client.Counter.Internal;
  outcome(o: TOutcome): client.Counter.Internal;
}

/** The gateway's Prometheus registry: per (endpoint, variant) request, latency, TTFT, token and retry series. */
export class GatewayMetrics {
  readonly registry = new client.Registry();
  /** Requests in flight, read at scrape time (a gauge update per request would hash its labels twice). */
  inflight = 0;
  private readonly requests: client.Counter<string>;
  private readonly duration: client.Histogram<string>;
  private readonly ttft: client.Histogram<string>;
  private readonly outputTokens: client.Counter<string>;
  private readonly retries: client.Counter<string>;
  private readonly pinned: client.Counter<string>;
  // Label lookups hash their label set on every call; the children are cached per (endpoint, variant) instead.
  private readonly children = new Map<string, TVariantMetrics>();

  constructor(routingLoadedAt: () => number, upstreamStats: () => { origin: string; waiting: number; connected: number }[] = () => []) {
    const registers = [this.registry];
    this.requests = new client.Counter({ name: "loraplane_gateway_requests_total", help: "Requests by endpoint, variant and outcome", labelNames: ["endpoint", "variant", "outcome"], registers });
    this.duration = new client.Histogram({
      name: "loraplane_gateway_request_duration_seconds",
      help: "End-to-end latency through the gateway",
      labelNames: ["endpoint", "variant"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.ttft = new client.Histogram({
      name: "loraplane_gateway_time_to_first_token_seconds",
      help: "Time to first token through the gateway",
      labelNames: ["endpoint", "variant"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.outputTokens = new client.Counter({ name: "loraplane_gateway_output_tokens_total", help: "Generated tokens", labelNames: ["endpoint", "variant"], registers });
    this.retries = new client.Counter({ name: "loraplane_gateway_retries_total", help: "Attempts retried before the first byte", labelNames: ["endpoint", "variant"], registers });
    this.pinned = new client.Counter({ name: "loraplane_gateway_pinned_requests_total", help: "Requests pinned to a variant by the variant header (served, not in rollout analysis)", labelNames: ["endpoint", "variant"], registers });
    const inflight = () => this.inflight;
    new client.Gauge({
      name: "loraplane_gateway_inflight_requests",
      help: "Requests in flight",
      registers,
      collect() {
        this.set(inflight());
      },
    });
    // 0 in normal operation (connections are not capped below what the upstream admits); anything else is a queue
    // at the gateway that the model server's own num_requests_waiting cannot see: scale on it too.
    new client.Gauge({
      name: "loraplane_gateway_upstream_waiting_requests",
      help: "Requests waiting at the gateway for a connection to their upstream",
      labelNames: ["upstream"],
      registers,
      collect() {
        this.reset();
        for (const u of upstreamStats()) this.labels(u.origin).set(u.waiting);
      },
    });
    new client.Gauge({
      name: "loraplane_gateway_upstream_connections",
      help: "Open connections to each upstream",
      labelNames: ["upstream"],
      registers,
      collect() {
        this.reset();
        for (const u of upstreamStats()) this.labels(u.origin).set(u.connected);
      },
    });
    new client.Gauge({
      name: "loraplane_gateway_routing_age_seconds",
      help: "Seconds since the routing table was last loaded from Postgres",
      registers,
      collect() {
        const loadedAt = routingLoadedAt();
        this.set(loadedAt ? (Date.now() - loadedAt) / 1000 : -1);
      },
    });
  }

  variant(endpoint: string, variant: string): TVariantMetrics {
    const key = `${endpoint}\u0000${variant}`;
    let c = this.children.get(key);
    if (!c) {
      const byOutcome = new Map<TOutcome, client.Counter.Internal>();
      const requests = this.requests;
      c = {
        duration: this.duration.labels(endpoint, variant),
        ttft: this.ttft.labels(endpoint, variant),
        tokens: this.outputTokens.labels(endpoint, variant),
        retries: this.retries.labels(endpoint, variant),
        pinned: this.pinned.labels(endpoint, variant),
        outcome(o) {
          let x = byOutcome.get(o);
          if (!x) byOutcome.set(o, (x = requests.labels(endpoint, variant, o)));
          return x;
        },
      };
      this.children.set(key, c);
    }
    return c;
  }
}
