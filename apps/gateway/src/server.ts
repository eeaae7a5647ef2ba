import { randomUUID } from "node:crypto";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import { performance } from "node:perf_hooks";
import { type Db, upsertServingWindows } from "@loraplane/db";
import client from "prom-client";
import { TokenAuth } from "./auth.ts";
import type { TLogger } from "./log.ts";
import { findExplicit, pickWeighted, stickyPoint, type TRoute, type TRouteVariant } from "./routing.ts";
import { RoutingStore } from "./routing-store.ts";
import { Upstreams, splitUpstream } from "./upstreams.ts";
import { WindowRecorder, type TOutcome } from "./window-recorder.ts";

export interface TGatewayOptions {
  db: Db;
  databaseUrl: string;
  log: TLogger;
  gatewayId: string;
  requireAuth: boolean;
  maxBodyBytes: number;
  /** Whole-request limit: to the last byte of the response. */
  upstreamTimeoutMs: number;
  flushIntervalMs: number;
  resyncMs?: number;
  /** Attempts per request, all before the first byte reaches the client. */
  maxAttempts?: number;
  connectionsPerUpstream?: number;
  variantHeader?: string;
}

const INFERENCE_PATHS = new Set(["/v1/chat/completions", "/v1/completions", "/v1/embeddings"]);
const RETRYABLE_STATUS = new Set([502, 503, 504]);
const TOKEN_RE = /"(?:content|text)":"(?!")/g;
const USAGE_RE = /"completion_tokens":\s*(\d+)/;
// Hop-by-hop and recomputed headers are not forwarded in either direction.
const SKIP_RESPONSE_HEADERS = new Set(["connection", "keep-alive", "transfer-encoding", "content-length", "date", "server"]);

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type = "invalid_request_error",
    readonly param: string | null = null,
  ) {
    super(message);
  }
}

function sendError(res: ServerResponse, status: number, message: string, type = "invalid_request_error", param: string | null = null): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ error: { message, type, param, code: status } });
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > limit) return Promise.reject(new HttpError(413, `request body over ${limit} bytes`, "invalid_request_error", "body"));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.removeAllListeners("data");
        req.resume();
        reject(new HttpError(413, `request body over ${limit} bytes`, "invalid_request_error", "body"));
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

export interface TGateway {
  server: http.Server;
  routing: RoutingStore;
  recorder: WindowRecorder;
  registry: client.Registry;
  listen(port: number, host: string): Promise<number>;
  /** Writes pending windows now (also runs every flushIntervalMs). */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export function createGateway(options: TGatewayOptions): TGateway {
  const { log } = options;
  const maxAttempts = options.maxAttempts ?? 3;
  const variantHeader = options.variantHeader ?? "x-loraplane-variant";
  const routing = new RoutingStore({ db: options.db, databaseUrl: options.databaseUrl, resyncMs: options.resyncMs ?? 10_000, log });
  const recorder = new WindowRecorder(options.gatewayId, Math.max(1, Math.round(options.flushIntervalMs / 1000)));
  const auth = new TokenAuth(options.db);
  const upstreams = new Upstreams({ connections: options.connectionsPerUpstream ?? 128, connectTimeoutMs: 2_000 });
  const feedbackIndex = new Map<string, { deploymentId: string; variantId: string }>();
  const FEEDBACK_INDEX_MAX = 200_000;

  const registry = new client.Registry();
  const requests = new client.Counter({ name: "loraplane_gateway_requests_total", help: "Requests by endpoint, variant and outcome", labelNames: ["endpoint", "variant", "outcome"], registers: [registry] });
  const duration = new client.Histogram({
    name: "loraplane_gateway_request_duration_seconds",
    help: "End-to-end latency through the gateway",
    labelNames: ["endpoint", "variant"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  const ttftHist = new client.Histogram({
    name: "loraplane_gateway_time_to_first_token_seconds",
    help: "Time to first token through the gateway",
    labelNames: ["endpoint", "variant"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const outputTokens = new client.Counter({ name: "loraplane_gateway_output_tokens_total", help: "Generated tokens", labelNames: ["endpoint", "variant"], registers: [registry] });
  const inflight = new client.Gauge({ name: "loraplane_gateway_inflight_requests", help: "Requests in flight", registers: [registry] });
  const retries = new client.Counter({ name: "loraplane_gateway_retries_total", help: "Attempts retried before the first byte", labelNames: ["endpoint", "variant"], registers: [registry] });
  new client.Gauge({
    name: "loraplane_gateway_routing_age_seconds",
    help: "Seconds since the routing table was last loaded from Postgres",
    registers: [registry],
    collect() {
      this.set(routing.loadedAt ? (Date.now() - routing.loadedAt) / 1000 : -1);
    },
  });

  // Label lookups hash their label set on every call; the children are cached per (endpoint, variant) instead.
  const children = new Map<string, { duration: client.Histogram.Internal<string>; ttft: client.Histogram.Internal<string>; tokens: client.Counter.Internal; retries: client.Counter.Internal; outcome(o: TOutcome): client.Counter.Internal }>();
  function metricsFor(endpoint: string, variant: string) {
    const key = `${endpoint}\u0000${variant}`;
    let c = children.get(key);
    if (!c) {
      const byOutcome = new Map<TOutcome, client.Counter.Internal>();
      c = {
        duration: duration.labels(endpoint, variant),
        ttft: ttftHist.labels(endpoint, variant),
        tokens: outputTokens.labels(endpoint, variant),
        retries: retries.labels(endpoint, variant),
        outcome(o) {
          let x = byOutcome.get(o);
          if (!x) byOutcome.set(o, (x = requests.labels(endpoint, variant, o)));
          return x;
        },
      };
      children.set(key, c);
    }
    return c;
  }

  function pick(route: TRoute, req: IncomingMessage, exclude: Set<string>): TRouteVariant {
    const explicit = req.headers[variantHeader];
    if (typeof explicit === "string" && explicit) {
      const v = findExplicit(route, explicit);
      if (!v) throw new HttpError(400, `${variantHeader}: no live variant "${explicit}" on ${route.endpointName} (have ${route.addressable.map((a) => a.role).join(", ")})`, "invalid_request_error", variantHeader);
      return v;
    }
    const sticky = req.headers[route.stickyHeader];
    const u = exclude.size === 0 && typeof sticky === "string" && sticky ? stickyPoint(`${route.endpointName}\u0000${sticky}`) : Math.random();
    const v = pickWeighted(route, u, exclude) ?? pickWeighted(route, u);
    if (!v) throw new HttpError(503, `no serving variant for ${route.endpointName}`, "service_unavailable");
    return v;
  }

  async function proxy(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const requestId = typeof req.headers["x-request-id"] === "string" ? req.headers["x-request-id"] : randomUUID();
    let projectId: string | null = null;
    if (options.requireAuth) {
      const a = await auth.authenticate(req.headers.authorization);
      if (!a.ok) throw new HttpError(a.status, a.message, a.status === 503 ? "service_unavailable" : "authentication_error");
      projectId = a.projectId;
    }
    const raw = await readBody(req, options.maxBodyBytes);
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw.toString("utf8")) as Record<string, unknown>;
    } catch {
      throw new HttpError(400, "request body must be JSON", "invalid_request_error", "body");
    }
    if (!body || typeof body !== "object" || Array.isArray(body)) throw new HttpError(400, "request body must be a JSON object", "invalid_request_error", "body");
    if (typeof body.model !== "string" || !body.model) throw new HttpError(400, "model: required (the endpoint name)", "invalid_request_error", "model");
    const route = routing.get(body.model);
    if (!route || (projectId !== null && route.projectId !== projectId)) {
      throw new HttpError(404, `model: no endpoint named "${body.model}"`, "not_found_error", "model");
    }
    const stream = body.stream === true;

    const abort = new AbortController();
    let cancelled = false;
    let timedOut = false;
    res.on("close", () => {
      if (!res.writableFinished) {
        cancelled = !timedOut;
        abort.abort();
      }
    });
    const timer = setTimeout(() => {
      timedOut = true;
      abort.abort();
    }, options.upstreamTimeoutMs);

    const exclude = new Set<string>();
    try {
      for (let attempt = 1; ; attempt++) {
        const variant = pick(route, req, exclude);
        const attemptStart = performance.now();
        const finish = (outcome: TOutcome, ttftMs: number | null, tokens: number) => {
          const latencyMs = performance.now() - attemptStart;
          recorder.record({ deploymentId: route.deploymentId, variantId: variant.id, outcome, latencyMs, ttftMs, outputTokens: tokens });
          const m = metricsFor(route.endpointName, variant.servedModelName);
          m.outcome(outcome).inc();
          if (outcome !== "cancelled") m.duration.observe(latencyMs / 1000);
          if (ttftMs !== null) m.ttft.observe(ttftMs / 1000);
          if (tokens) m.tokens.inc(tokens);
        };
        const { origin, basePath } = splitUpstream(variant.upstreamUrl);
        const payload = JSON.stringify({ ...body, model: variant.servedModelName });
        let upstream;
        try {
          upstream = await upstreams.pool(origin).request({
            path: basePath + path,
            method: "POST",
            headers: { "content-type": "application/json", "x-request-id": requestId, ...(stream ? { accept: "text/event-stream" } : {}) },
            body: payload,
            signal: abort.signal,
            headersTimeout: options.upstreamTimeoutMs,
            bodyTimeout: options.upstreamTimeoutMs,
          });
        } catch (error) {
          if (cancelled) return finish("cancelled", null, 0);
          const outcome: TOutcome = timedOut ? "timeout" : "upstream_unreachable";
          finish(outcome, null, 0);
          if (!timedOut && attempt < maxAttempts) {
            exclude.add(variant.id);
            metricsFor(route.endpointName, variant.servedModelName).retries.inc();
            continue;
          }
          log.warn({ requestId, variant: variant.servedModelName, err: (error as Error).message }, "upstream failed");
          throw timedOut ? new HttpError(504, "upstream timed out", "timeout") : new HttpError(502, "upstream unavailable", "upstream_error");
        }
        const { statusCode, headers, body: upstreamBody } = upstream;
        if (RETRYABLE_STATUS.has(statusCode) && attempt < maxAttempts) {
          await upstreamBody.dump().catch(() => {});
          finish("server_error", null, 0);
          exclude.add(variant.id);
          metricsFor(route.endpointName, variant.servedModelName).retries.inc();
          continue;
        }
        const outHeaders: Record<string, string | string[]> = {};
        for (const [k, v] of Object.entries(headers)) if (v !== undefined && !SKIP_RESPONSE_HEADERS.has(k)) outHeaders[k] = v;
        outHeaders["x-request-id"] = requestId;
        outHeaders["x-loraplane-variant"] = variant.role;
        outHeaders["x-loraplane-model-version"] = variant.modelVersionId;
        let ttftMs: number | null = null;
        let tokens = 0;
        let usageTokens: number | null = null;
        if (!stream) {
          // A non-streamed answer is complete before the upstream sends it: forward it in one write, with its length.
          const chunks: Buffer[] = [];
          try {
            for await (const chunk of upstreamBody as AsyncIterable<Buffer>) {
              ttftMs ??= performance.now() - attemptStart;
              chunks.push(chunk);
            }
          } catch {
            if (cancelled) return finish("cancelled", null, 0);
            finish(timedOut ? "timeout" : "server_error", null, 0);
            throw timedOut ? new HttpError(504, "upstream timed out", "timeout") : new HttpError(502, "upstream closed the response early", "upstream_error");
          }
          const buf = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
          if (statusCode < 400) {
            const usage = USAGE_RE.exec(buf.toString("latin1"));
            if (usage) usageTokens = Number(usage[1]);
          }
          outHeaders["content-length"] = String(buf.length);
          res.writeHead(statusCode, outHeaders);
          res.end(buf);
        } else {
          res.writeHead(statusCode, outHeaders);
          // Headers go out at once so the client sees the stream open before the first token.
          res.flushHeaders();
          try {
            for await (const chunk of upstreamBody as AsyncIterable<Buffer>) {
              if (statusCode < 400) {
                const text = chunk.toString("utf8");
                const matches = text.match(TOKEN_RE);
                if (matches) {
                  tokens += matches.length;
                  ttftMs ??= performance.now() - attemptStart;
                }
                const usage = USAGE_RE.exec(text);
                if (usage) usageTokens = Number(usage[1]);
              }
              if (!res.write(chunk)) await new Promise<void>((r) => res.once("drain", r));
            }
          } catch {
            if (cancelled) return finish("cancelled", ttftMs, usageTokens ?? tokens);
            finish(timedOut ? "timeout" : "server_error", ttftMs, usageTokens ?? tokens);
            res.destroy();
            return;
          }
          res.end();
        }
        if (statusCode < 400) feedbackRemember(requestId, route.deploymentId, variant.id);
        finish(statusCode >= 500 ? "server_error" : statusCode >= 400 ? "client_error" : "ok", ttftMs, usageTokens ?? tokens);
        return;
      }
    } finally {
      clearTimeout(timer);
    }
  }

  function feedbackRemember(requestId: string, deploymentId: string, variantId: string) {
    if (feedbackIndex.size >= FEEDBACK_INDEX_MAX) feedbackIndex.delete(feedbackIndex.keys().next().value!);
    feedbackIndex.set(requestId, { deploymentId, variantId });
  }

  async function feedback(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (options.requireAuth) {
      const a = await auth.authenticate(req.headers.authorization);
      if (!a.ok) throw new HttpError(a.status, a.message, "authentication_error");
    }
    const raw = await readBody(req, 16_384);
    let body: { request_id?: unknown; rating?: unknown };
    try {
      body = JSON.parse(raw.toString("utf8")) as typeof body;
    } catch {
      throw new HttpError(400, "request body must be JSON", "invalid_request_error", "body");
    }
    if (typeof body?.request_id !== "string" || !body.request_id) throw new HttpError(400, "request_id: required (the x-request-id of the response)", "invalid_request_error", "request_id");
    if (body.rating !== "up" && body.rating !== "down") throw new HttpError(400, 'rating: must be "up" or "down"', "invalid_request_error", "rating");
    const target = feedbackIndex.get(body.request_id);
    if (!target) throw new HttpError(404, "request_id: unknown or expired request (feedback goes to the gateway that served it)", "not_found_error", "request_id");
    feedbackIndex.delete(body.request_id);
    recorder.feedback(target.deploymentId, target.variantId, body.rating === "up");
    res.writeHead(202, { "content-type": "application/json" });
    res.end(JSON.stringify({ accepted: true }));
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?", 1)[0]!;
    if (req.method === "POST" && INFERENCE_PATHS.has(path)) {
      inflight.inc();
      try {
        await proxy(req, res, path);
      } finally {
        inflight.dec();
      }
      return;
    }
    if (req.method === "POST" && path === "/v1/feedback") return feedback(req, res);
    if (req.method === "GET" && path === "/health") {
      const ageMs = routing.loadedAt ? Date.now() - routing.loadedAt : null;
      const body = JSON.stringify({ status: routing.loadedAt ? "ok" : "starting", routes: routing.all().length, routingAgeMs: ageMs, listening: routing.listening, lastError: routing.lastError, gatewayId: options.gatewayId });
      res.writeHead(routing.loadedAt ? 200 : 503, { "content-type": "application/json" });
      res.end(body);
      return;
    }
    if (req.method === "GET" && path === "/metrics") {
      const text = await registry.metrics();
      res.writeHead(200, { "content-type": registry.contentType });
      res.end(text);
      return;
    }
    if (req.method === "GET" && path === "/v1/models") {
      if (options.requireAuth) {
        const a = await auth.authenticate(req.headers.authorization);
        if (!a.ok) throw new HttpError(a.status, a.message, "authentication_error");
      }
      const data = routing.all().map((r) => ({ id: r.endpointName, object: "model", owned_by: "loraplane", variants: r.weighted.map((v) => ({ role: v.role, weightBps: v.weightBps })) }));
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ object: "list", data }));
      return;
    }
    throw new HttpError(404, `no route for ${req.method} ${path}`, "not_found_error");
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (error instanceof HttpError) return sendError(res, error.status, error.message, error.type, error.param);
      log.error({ err: (error as Error).message, stack: (error as Error).stack }, "gateway error");
      sendError(res, 500, "internal gateway error", "internal_error");
    });
  });
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;

  let flushing: Promise<void> | null = null;
  async function flush(): Promise<void> {
    if (flushing) return flushing;
    flushing = (async () => {
      const rows = recorder.pending();
      if (rows.length === 0) return;
      try {
        await upsertServingWindows(options.db, rows.map((r) => r.row));
        recorder.flushed(rows);
      } catch (error) {
        // Kept in memory and rewritten on the next flush (the upsert overwrites, so nothing is counted twice).
        log.warn({ err: (error as Error).message, windows: rows.length }, "window flush failed; will retry");
      }
    })().finally(() => {
      flushing = null;
    });
    return flushing;
  }
  const flushTimer = setInterval(() => void flush(), options.flushIntervalMs);
  flushTimer.unref();

  return {
    server,
    routing,
    recorder,
    registry,
    async listen(port, host) {
      await routing.start();
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => resolve());
      });
      const addr = server.address();
      return typeof addr === "object" && addr ? addr.port : port;
    },
    flush,
    async close() {
      clearInterval(flushTimer);
      // Stop accepting, let in-flight requests finish, then write their windows.
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await flush();
      await routing.close();
      await upstreams.close();
    },
  };
}
