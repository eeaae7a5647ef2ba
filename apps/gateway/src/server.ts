import { timingSafeEqual } from "node:crypto";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import { type Db, upsertServingWindows } from "@loraplane/db";
import type client from "prom-client";
import { type TAuthResult, type TCaller, TokenAuth } from "./auth.ts";
import { FeedbackIds, resolveFeedbackKey } from "./feedback-ids.ts";
import { GatewayMetrics } from "./gateway-metrics.ts";
import { HttpError, sendError } from "./http-error.ts";
import { InteractionCapture } from "./interaction-capture.ts";
import type { TLogger } from "./log.ts";
import { createProxy } from "./proxy.ts";
import type { TRoute } from "./routing.ts";
import { RoutingStore } from "./routing-store.ts";
import { ShadowMirror } from "./shadow-mirror.ts";
import { StickyAssignments } from "./sticky-assignments.ts";
import { Upstreams } from "./upstreams.ts";
import { WindowRecorder } from "./window-recorder.ts";

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
  /** Connections per upstream origin; null or unset: unbounded (the upstream decides what it admits). */
  connectionsPerUpstream?: number | null;
  variantHeader?: string;
  /** `<projectSlug>/<environmentName>` entries (`*` on either side) this gateway serves; empty or unset: every one. */
  environments?: readonly string[];
  /** How long a token (with its owner's memberships) is trusted from cache; default 30 s. */
  tokenCacheMs?: number;
  /**
   * Bearer token for GET /metrics. Unset: /metrics answers loopback peers only (a Prometheus beside the gateway);
   * set: it answers anyone presenting it (a remote scraper, e.g. a ServiceMonitor's bearerTokenSecret).
   */
  metricsToken?: string;
  /** SERVING_API_KEY: the bearer key the model servers require (the caller's own token is never forwarded). */
  upstreamApiKey?: string | null;
  /**
   * GATEWAY_FEEDBACK_KEY: the MAC key of request ids, shared by every gateway of the install so feedback may reach any
   * of them. Unset: derived from upstreamApiKey, else random per process (feedback-ids.ts).
   */
  feedbackKey?: string | null;
  /** How long a request id may be rated, in seconds (default FEEDBACK_MAX_AGE_S). */
  feedbackMaxAgeS?: number;
}

const INFERENCE_OPS = new Set(["chat/completions", "completions", "embeddings"]);
const SCOPED_PATH_RE = /^\/([a-z0-9][a-z0-9-]*)\/([a-z0-9][a-z0-9-]*)\/v1\/([a-z/]+)$/;

/**
 * An OpenAI-style path: `/<projectSlug>/<environmentName>/v1/<op>` addresses one environment; the legacy `/v1/<op>`
 * (scope null) resolves the endpoint name among every environment the caller may reach.
 */
interface TPath {
  scope: { projectSlug: string; environmentName: string } | null;
  op: string;
}
function parsePath(path: string): TPath | null {
  if (path.startsWith("/v1/")) return { scope: null, op: path.slice(4) };
  const m = SCOPED_PATH_RE.exec(path);
  return m ? { scope: { projectSlug: m[1]!, environmentName: m[2]! }, op: m[3]! } : null;
}

function modelNotFound(model: string, scope: TPath["scope"]): HttpError {
  return new HttpError(404, `model: no endpoint named "${model}"${scope ? ` in ${scope.projectSlug}/${scope.environmentName}` : ""}`, "not_found_error", "model");
}

/** Reads the request body up to `limit` bytes (413 beyond it, checked against Content-Length first). */
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

/** A body refused at once (413 on Content-Length) is rethrown by its await or dropped: never an unhandled rejection. */
function ignore(): void {}

/** Request paths without the query string. */
function pathOf(url: string | undefined): string {
  if (url === undefined) return "/";
  const q = url.indexOf("?");
  return q < 0 ? url : url.slice(0, q);
}

function parseJsonObject(raw: Buffer): Record<string, unknown> {
  let body: unknown;
  try {
    body = JSON.parse(raw.toString("utf8"));
  } catch {
    throw new HttpError(400, "request body must be JSON", "invalid_request_error", "body");
  }
  if (!body || typeof body !== "object" || Array.isArray(body)) throw new HttpError(400, "request body must be a JSON object", "invalid_request_error", "body");
  return body as Record<string, unknown>;
}

export interface TGateway {
  server: http.Server;
  routing: RoutingStore;
  recorder: WindowRecorder;
  /** Prompt/response storage for environments with captureFeedbackData. */
  capture: InteractionCapture;
  /** Shadow evaluation: mirrored copies to candidates in their shadow phase. */
  shadow: ShadowMirror;
  registry: client.Registry;
  /** Issues and checks request ids; remembers rated ids only. */
  feedbackIds: FeedbackIds;
  listen(port: number, host: string): Promise<number>;
  /** Writes pending windows and captured interactions now (also runs every flushIntervalMs). */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export function createGateway(options: TGatewayOptions): TGateway {
  const { log } = options;
  const routing = new RoutingStore({ db: options.db, databaseUrl: options.databaseUrl, resyncMs: options.resyncMs ?? 10_000, log, environments: options.environments });
  const recorder = new WindowRecorder(options.gatewayId, Math.max(1, Math.round(options.flushIntervalMs / 1000)));
  const auth = new TokenAuth(options.db, options.tokenCacheMs);
  const upstreams = new Upstreams({ connections: options.connectionsPerUpstream ?? null, connectTimeoutMs: 2_000 });
  const metrics = new GatewayMetrics(() => routing.loadedAt, () => upstreams.stats());
  const registry = metrics.registry;
  const feedbackKey = resolveFeedbackKey(options.feedbackKey, options.upstreamApiKey);
  if (feedbackKey.source === "random") log.info("request ids are signed with a key of this process: feedback is accepted only by this gateway (set GATEWAY_FEEDBACK_KEY or SERVING_API_KEY alike on every gateway to accept it on any)");
  /** Feedback is accepted only from the caller that made the request, on the id the gateway issued (signed, not stored). */
  const feedbackIds = new FeedbackIds(feedbackKey.key, options.feedbackMaxAgeS);
  const variantHeader = options.variantHeader ?? "x-loraplane-variant";
  const capture = new InteractionCapture({ db: options.db, log, registry, flushIntervalMs: options.flushIntervalMs });
  const shadow = new ShadowMirror({ db: options.db, log, registry, upstreams, gatewayId: options.gatewayId, flushIntervalMs: options.flushIntervalMs, timeoutMs: options.upstreamTimeoutMs, upstreamApiKey: options.upstreamApiKey ?? null });
  const proxy = createProxy({
    upstreams,
    recorder,
    metrics,
    log,
    maxAttempts: options.maxAttempts ?? 3,
    upstreamTimeoutMs: options.upstreamTimeoutMs,
    variantHeader,
    ids: feedbackIds,
    capture,
    shadow,
    sticky: new StickyAssignments(),
    upstreamApiKey: options.upstreamApiKey ?? null,
    refresh(route, stale) {
      const current = () => routing.get(route.projectSlug, route.environmentName, route.endpointName);
      // A NOTIFY may be on its way: reload (coalesced with any load in flight) unless the table is fresh already.
      if (stale && Date.now() - routing.loadedAt > 250) return routing.reload().then(current);
      return current();
    },
  });

  const callerOf = (a: TAuthResult): TCaller => {
    if (!a.ok) throw new HttpError(a.status, a.message, a.status === 503 ? "service_unavailable" : "authentication_error");
    return a;
  };
  /** The caller (null: auth disabled, every project) for every client route; a cached token answers without a promise. */
  function authorize(req: IncomingMessage): TCaller | null | Promise<TCaller | null> {
    if (!options.requireAuth) return null;
    const a = auth.authenticate(req.headers.authorization);
    return a instanceof Promise ? a.then(callerOf) : callerOf(a);
  }

  /** Routes are invisible (404, never 403) to callers that may not reach them, so their existence does not leak. */
  const reaches = (caller: TCaller | null, route: TRoute): boolean => caller === null || caller.projects === null || caller.projects.has(route.projectId);

  function checkServed(scope: NonNullable<TPath["scope"]>): void {
    if (!routing.servesEnvironment(scope.projectSlug, scope.environmentName)) {
      throw new HttpError(404, `this gateway does not serve environment ${scope.projectSlug}/${scope.environmentName}`, "not_found_error");
    }
  }

  /** Resolves the endpoint named by `model`: in the environment of the path, or the one environment the caller can reach that has it. */
  function resolve(caller: TCaller | null, scope: TPath["scope"], model: string): TRoute {
    if (scope) {
      const route = routing.get(scope.projectSlug, scope.environmentName, model);
      if (!route || !reaches(caller, route)) throw modelNotFound(model, scope);
      return route;
    }
    // The common case, one environment with this endpoint name, without a filtered copy of the list per request.
    const named = routing.named(model);
    if (named.length === 1 && reaches(caller, named[0]!)) return named[0]!;
    const candidates = named.filter((r) => reaches(caller, r));
    if (candidates.length === 1) return candidates[0]!;
    if (candidates.length === 0) throw modelNotFound(model, scope);
    const choices = candidates.map((r) => `${r.projectSlug}/${r.environmentName}`).sort();
    throw new HttpError(
      400,
      `model: "${model}" is served in several environments (${choices.join(", ")}); call /<project>/<environment>/v1/... instead of /v1/...`,
      "invalid_request_error",
      "model",
      { choices: choices.map((c) => ({ environment: c, base_url: `/${c}/v1` })) },
    );
  }

  async function inference(req: IncomingMessage, res: ServerResponse, scope: TPath["scope"], op: string): Promise<void> {
    // Listening for the body before anything is awaited lets it stream in while the token is checked.
    const rawBody = readBody(req, options.maxBodyBytes);
    // A body refused at once (413 on Content-Length) must not count as unhandled while the token is looked up: the
    // rejection is still thrown by the await below, or dropped when authentication fails first.
    rawBody.catch(ignore);
    const p = authorize(req);
    const caller: TCaller | null = p instanceof Promise ? await p : p;
    const body = parseJsonObject(await rawBody);
    if (typeof body.model !== "string" || !body.model) throw new HttpError(400, "model: required (the endpoint name)", "invalid_request_error", "model");
    const route = resolve(caller, scope, body.model);
    if (caller && !caller.canPin && req.headers[variantHeader] !== undefined) {
      throw new HttpError(403, `${variantHeader}: pinning a variant needs a token with scope inference:pin`, "permission_error", variantHeader);
    }
    // The gateway issues every request id (returned in x-request-id): a client-chosen id could name someone else's request.
    proxy.forward(req, res, `/v1/${op}`, body, route, feedbackIds.nonce(), caller);
  }

  async function models(req: IncomingMessage, res: ServerResponse, scope: TPath["scope"]): Promise<void> {
    const caller = await authorize(req);
    const routes = scope ? routing.all().filter((r) => r.projectSlug === scope.projectSlug && r.environmentName === scope.environmentName) : routing.all();
    const data = routes
      .filter((r) => reaches(caller, r))
      .map((r) => ({
        id: r.endpointName,
        object: "model",
        owned_by: "loraplane",
        project: r.projectSlug,
        environment: r.environmentName,
        base_url: `/${r.projectSlug}/${r.environmentName}/v1`,
        variants: r.weighted.map((v) => ({ role: v.role, weightBps: v.weightBps })),
      }));
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ object: "list", data }));
  }

  async function feedback(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const caller = await authorize(req);
    const body = parseJsonObject(await readBody(req, 16_384));
    if (typeof body.request_id !== "string" || !body.request_id) throw new HttpError(400, "request_id: required (the x-request-id of the response)", "invalid_request_error", "request_id");
    if (body.rating !== "up" && body.rating !== "down") throw new HttpError(400, 'rating: must be "up" or "down"', "invalid_request_error", "rating");
    if (body.comment !== undefined && body.comment !== null && (typeof body.comment !== "string" || body.comment.length > 4000)) {
      throw new HttpError(400, "comment: must be a string of at most 4000 characters", "invalid_request_error", "comment");
    }
    // A forged, tampered, expired, already rated or another caller's id answers exactly like an unknown one: request
    // ids are not an oracle.
    const target = feedbackIds.redeem(body.request_id, caller);
    if (!target) throw new HttpError(404, "request_id: unknown or expired request (feedback goes to a gateway of the install that served it)", "not_found_error", "request_id");
    // Feedback on pinned traffic is not counted, like the traffic itself.
    if (!target.pinned) recorder.feedback(target.deploymentId, target.variantId, body.rating === "up");
    // Stored with the prompt and response only where the environment opted in (the request was captured).
    if (target.captured) capture.feedback(body.request_id, body.rating, typeof body.comment === "string" && body.comment ? body.comment : null);
    res.writeHead(202, { "content-type": "application/json" });
    res.end(JSON.stringify({ accepted: true, counted: !target.pinned, stored: target.captured }));
  }

  const metricsToken = options.metricsToken ? Buffer.from(options.metricsToken) : null;
  function checkMetricsAccess(req: IncomingMessage): void {
    if (metricsToken) {
      const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? "");
      const given = m ? Buffer.from(m[1]!) : null;
      if (!given || given.length !== metricsToken.length || !timingSafeEqual(given, metricsToken)) {
        throw new HttpError(401, "metrics: Authorization: Bearer <GATEWAY_METRICS_TOKEN> required", "authentication_error");
      }
      return;
    }
    const peer = req.socket.remoteAddress ?? "";
    if (!(peer.startsWith("127.") || peer === "::1" || peer.startsWith("::ffff:127."))) {
      throw new HttpError(403, "metrics: served to loopback only; set GATEWAY_METRICS_TOKEN to scrape from elsewhere", "permission_error");
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = pathOf(req.url);
    const parsed = parsePath(path);
    if (parsed) {
      if (parsed.scope) checkServed(parsed.scope);
      if (req.method === "POST" && INFERENCE_OPS.has(parsed.op)) return inference(req, res, parsed.scope, parsed.op);
      if (req.method === "POST" && parsed.op === "feedback") return feedback(req, res);
      if (req.method === "GET" && parsed.op === "models") return models(req, res, parsed.scope);
    }
    if (req.method === "GET" && path === "/health") {
      const ageMs = routing.loadedAt ? Date.now() - routing.loadedAt : null;
      const body = JSON.stringify({ status: routing.loadedAt ? "ok" : "starting", routes: routing.all().length, routingAgeMs: ageMs, listening: routing.listening, lastError: routing.lastError, gatewayId: options.gatewayId });
      res.writeHead(routing.loadedAt ? 200 : 503, { "content-type": "application/json" });
      res.end(body);
      return;
    }
    if (req.method === "GET" && path === "/metrics") {
      checkMetricsAccess(req);
      const text = await registry.metrics();
      res.writeHead(200, { "content-type": registry.contentType });
      res.end(text);
      return;
    }
    throw new HttpError(404, `no route for ${req.method} ${path}`, "not_found_error");
  }

  // Draining (close()): every answer not yet begun says Connection: close and each connection is shut once idle, so
  // keep-alive clients that send back to back move to another replica instead of holding this one open indefinitely.
  let draining = false;
  const unanswered = new Set<ServerResponse>();
  const closeIdle = () => server.closeIdleConnections();
  // One listener shared by every response (no closure per request on the hot path).
  function forget(this: ServerResponse): void {
    unanswered.delete(this);
    if (draining) setImmediate(closeIdle);
  }
  const server = http.createServer((req, res) => {
    if (draining) res.shouldKeepAlive = false;
    else {
      unanswered.add(res);
      // on, not once: a response closes once, and once() wraps the listener in two objects per request.
      res.on("close", forget);
    }
    handle(req, res).catch((error: unknown) => {
      if (error instanceof HttpError) return sendError(res, error.status, error.message, error.type, error.param, error.details);
      log.error({ err: (error as Error).message, stack: (error as Error).stack }, "gateway error");
      sendError(res, 500, "internal gateway error", "internal_error");
    });
  });
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;

  let flushing: Promise<void> | null = null;
  async function flush(): Promise<void> {
    // A flush already running took its rows before the caller's latest requests: write again after it.
    if (flushing) return flushing.then(flush);
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
    capture,
    shadow,
    registry,
    feedbackIds,
    async listen(port, host) {
      await routing.start();
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        // A burst of new streams (a client fleet reconnecting) must not overflow the default accept backlog of 511.
        server.listen({ port, host, backlog: 4096 }, () => resolve());
      });
      const addr = server.address();
      return typeof addr === "object" && addr ? addr.port : port;
    },
    async flush() {
      await Promise.all([flush(), capture.flush(), shadow.flush()]);
    },
    async close() {
      clearInterval(flushTimer);
      // Stop accepting, let in-flight requests finish (their connections closing after them), then write their windows.
      draining = true;
      for (const res of unanswered) if (!res.headersSent) res.shouldKeepAlive = false;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      shadow.close();
      await Promise.all([flush(), capture.close(), shadow.flush()]);
      await routing.close();
      await upstreams.close();
    },
  };
}
