import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import { performance } from "node:perf_hooks";
import type { Dispatcher, Pool } from "undici";
import type { TCaller } from "./auth.ts";
import type { FeedbackIds } from "./feedback-ids.ts";
import type { GatewayMetrics, TVariantMetrics } from "./gateway-metrics.ts";
import { HttpError, sendError } from "./http-error.ts";
import type { InteractionCapture, TCaptureSession } from "./interaction-capture.ts";
import type { TLogger } from "./log.ts";
import type { ShadowMirror, TShadowSession } from "./shadow-mirror.ts";
import type { StickyAssignments } from "./sticky-assignments.ts";
import { findExplicit, pickWeighted, stickyPoint, type TRoute, type TRouteVariant } from "./routing.ts";
import { type Upstreams, splitUpstream } from "./upstreams.ts";
import type { TOutcome, WindowRecorder } from "./window-recorder.ts";

// 404 too: the gateway names the variant's model itself, so an upstream 404 means that server does not (or no longer)
// serve the variant (an adapter unloaded after a rollback, a pod that lost it); another variant can answer.
const RETRYABLE_STATUS = new Set([404, 502, 503, 504]);
export const CONTENT = Buffer.from('"content":"');
export const TEXT = Buffer.from('"text":"');
const COMPLETION_TOKENS = Buffer.from('"completion_tokens"');
const QUOTE = 0x22;

const COLON = 0x3a;

/**
 * The `"completion_tokens": <n>` of a usage object in `chunk`, read on the bytes (no string copy of a whole answer and
 * no regex per request); null when absent. Whitespace (space, tab, CR, LF) may surround the colon, as in JSON.
 */
export function completionTokens(chunk: Buffer): number | null {
  let i = chunk.indexOf(COMPLETION_TOKENS);
  if (i < 0) return null;
  i += COMPLETION_TOKENS.length;
  while (chunk[i] === 0x20 || chunk[i] === 0x09 || chunk[i] === 0x0a || chunk[i] === 0x0d) i++;
  if (chunk[i] !== COLON) return null;
  i++;
  while (chunk[i] === 0x20 || chunk[i] === 0x09 || chunk[i] === 0x0a || chunk[i] === 0x0d) i++;
  let n = 0;
  let digits = 0;
  for (let c = chunk[i]; c !== undefined && c >= 0x30 && c <= 0x39; c = chunk[++i]) {
    n = n * 10 + (c - 0x30);
    digits++;
  }
  return digits ? n : null;
}

/** Non-empty `"<key>":"…"` fields in a chunk, counted on the bytes (no string copy or regex per streamed chunk). */
export function countField(chunk: Buffer, key: Buffer): number {
  let n = 0;
  for (let i = chunk.indexOf(key); i >= 0; i = chunk.indexOf(key, i + key.length)) {
    if (chunk[i + key.length] !== QUOTE) n++;
  }
  return n;
}
// Hop-by-hop and recomputed headers are not forwarded in either direction.
const SKIP_RESPONSE_HEADERS = new Set(["connection", "keep-alive", "transfer-encoding", "content-length", "date", "server"]);
const UNDICI_TIMEOUTS = new Set(["UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT"]);

export interface TProxyOptions {
  upstreams: Upstreams;
  recorder: WindowRecorder;
  metrics: GatewayMetrics;
  log: TLogger;
  /** Attempts per request, all before the first byte reaches the client. */
  maxAttempts: number;
  /** Whole-request limit: to the last byte of the response. */
  upstreamTimeoutMs: number;
  variantHeader: string;
  /**
   * Issues the id of every answered request: it carries what feedback checks (variant, caller, pinned, captured), so
   * nothing is remembered per request (feedback-ids.ts).
   */
  ids: Pick<FeedbackIds, "issue" | "routePart">;
  /** Stores prompt and response where the environment opted in (never for pinned traffic). */
  capture?: Pick<InteractionCapture, "begin" | "captures"> | null;
  /** Shadow evaluation: copies a share of answered requests to a candidate in its shadow phase (shadow-mirror.ts). */
  shadow?: Pick<ShadowMirror, "begin"> | null;
  /** Adaptive A/B: remembered sticky assignments (sticky-assignments.ts). */
  sticky?: Pick<StickyAssignments, "pick"> | null;
  /** Sent upstream as `Authorization: Bearer …` (vLLM --api-key); the client's Authorization never is. */
  upstreamApiKey?: string | null;
  /**
   * The route as the gateway knows it now, for a retry: a routing change may have landed since the request was
   * routed. `stale` (no other variant left to try on the route the request has): may reload the table first.
   */
  refresh?(route: TRoute, stale: boolean): TRoute | undefined | Promise<TRoute | undefined>;
}

/** What a variant needs on the hot path, computed once per routing table entry rather than once per request. */
interface TTarget {
  pool: Pool;
  basePath: string;
  metrics: TVariantMetrics;
  /** The deployment and variant as request ids carry them. */
  idRoute: Buffer;
}

export interface TProxy {
  /**
   * Forwards one parsed inference request; answers the client itself (also its errors) and never throws. The caller
   * (null: auth disabled) must already be allowed to pin when the request carries the variant header. `nonce`
   * (FeedbackIds.nonce()) is the request's id upstream and on a failed answer; an answered one gets the issued id.
   */
  forward(req: IncomingMessage, res: ServerResponse, path: string, body: Record<string, unknown>, route: TRoute, nonce: string, caller: TCaller | null): void;
}

/** Options as the exchanges read them: the upstream Authorization header built once, not per request. */
type TResolvedProxyOptions = TProxyOptions & { upstreamAuth: { authorization?: string } };

export function createProxy(given: TProxyOptions): TProxy {
  const options: TResolvedProxyOptions = { ...given, upstreamAuth: given.upstreamApiKey ? { authorization: `Bearer ${given.upstreamApiKey}` } : {} };
  const targets = new WeakMap<TRouteVariant, TTarget>();
  const targetOf = (route: TRoute, variant: TRouteVariant): TTarget => {
    let t = targets.get(variant);
    if (!t) {
      const { origin, basePath } = splitUpstream(variant.upstreamUrl);
      t = { pool: options.upstreams.pool(origin), basePath, metrics: options.metrics.variant(route.endpointName, variant.servedModelName), idRoute: options.ids.routePart(route.deploymentId, variant.id) };
      targets.set(variant, t);
    }
    return t;
  };
  return {
    forward(req, res, path, body, route, nonce, caller) {
      options.metrics.inflight++;
      new Exchange(options, targetOf, req, res, path, body, route, nonce, caller).start();
    },
  };
}

// Listeners shared by every exchange: the exchange rides on the timer's argument and on the response object, so the
// hot path makes no closure per request.
const kExchange = Symbol("exchange");
type TExchangeResponse = ServerResponse & { [kExchange]?: Exchange };
function onTimeout(exchange: Exchange): void {
  exchange.timeout();
}
function onClientClose(this: TExchangeResponse): void {
  this[kExchange]?.clientGone();
}

/**
 * One client request and its upstream attempts, driven by undici's dispatch callbacks (no response stream, promise or
 * AbortController per request: this is the gateway's hot path). Attempts are retried on another variant only while
 * nothing has reached the client; every attempt is recorded once with its outcome.
 */
class Exchange implements Dispatcher.DispatchHandler {
  private readonly stream: boolean;
  private timer: NodeJS.Timeout | undefined;
  private attempt = 0;
  private exclude: Set<string> | null = null;
  private settled = false;
  /** Pinned to a variant by the variant header: served, but kept out of the windows rollouts are judged on. */
  private pinned = false;
  // Per attempt:
  private variant!: TRouteVariant;
  private target!: TTarget;
  private attemptStart = 0;
  private attemptRecorded = false;
  private controller: Dispatcher.DispatchController | null = null;
  private abortReason: Error | null = null;
  private status = 0;
  private headers: IncomingHttpHeaders = {};
  /** A retryable status while attempts remain: its body is dropped and the request goes to another variant. */
  private discard = false;
  /** Response headers went to the client (streaming): from here on an error can only cut the stream. */
  private clientStarted = false;
  private chunks: Buffer[] = [];
  /** The answer being stored (interaction-capture.ts), from the attempt that reaches the client. */
  private capture: TCaptureSession | null = null;
  /** The stable answer being collected for a shadow copy, from the attempt that reaches the client. */
  private shadow: TShadowSession | null = null;
  private ttftMs: number | null = null;
  private tokens = 0;
  private usageTokens: number | null = null;

  constructor(
    private readonly options: TResolvedProxyOptions,
    private readonly targetOf: (route: TRoute, variant: TRouteVariant) => TTarget,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly path: string,
    private readonly body: Record<string, unknown>,
    private route: TRoute,
    /** The nonce until an answer reaches the client; then, for an answer below 400, the id issued for it. */
    private requestId: string,
    private readonly caller: TCaller | null,
  ) {
    this.stream = body.stream === true;
  }

  start(): void {
    this.next();
    // Armed after the first attempt is on the wire, so the upstream starts working while this bookkeeping runs.
    if (this.settled) return;
    this.timer = setTimeout(onTimeout, this.options.upstreamTimeoutMs, this);
    (this.res as TExchangeResponse)[kExchange] = this;
    // on, not once (no wrapper objects per request): a response closes once, and clientGone() is idempotent anyway.
    this.res.on("close", onClientClose);
  }

  private next(): void {
    this.attempt++;
    try {
      this.variant = this.pick();
    } catch (error) {
      const e = error as HttpError;
      sendError(this.res, e.status, e.message, e.type, e.param);
      this.settle();
      return;
    }
    this.target = this.targetOf(this.route, this.variant);
    this.attemptStart = performance.now();
    this.attemptRecorded = false;
    this.controller = null;
    this.status = 0;
    this.discard = false;
    this.chunks = [];
    this.capture = null;
    this.shadow = null;
    this.ttftMs = null;
    this.tokens = 0;
    this.usageTokens = null;
    this.body.model = this.variant.servedModelName;
    this.target.pool.dispatch(
      {
        path: this.target.basePath + this.path,
        method: "POST",
        headers: this.stream
          ? { "content-type": "application/json", "x-request-id": this.requestId, accept: "text/event-stream", ...this.options.upstreamAuth }
          : { "content-type": "application/json", "x-request-id": this.requestId, ...this.options.upstreamAuth },
        body: JSON.stringify(this.body),
        // Our own timer answers first; undici's are a backstop for a connection that stalls.
        headersTimeout: this.options.upstreamTimeoutMs + 1_000,
        bodyTimeout: this.options.upstreamTimeoutMs + 1_000,
      },
      this,
    );
  }

  private pick(): TRouteVariant {
    const { route, req } = this;
    const header = this.options.variantHeader;
    const explicit = req.headers[header];
    if (typeof explicit === "string" && explicit) {
      const v = findExplicit(route, explicit);
      if (!v) throw new HttpError(400, `${header}: no live variant "${explicit}" on ${route.endpointName} (have ${route.addressable.map((a) => a.role).join(", ")})`, "invalid_request_error", header);
      this.pinned = true;
      return v;
    }
    const sticky = req.headers[route.stickyHeader];
    const exclude = this.exclude;
    const u = !exclude && typeof sticky === "string" && sticky ? stickyPoint(`${route.endpointName}\u0000${sticky}`) : Math.random();
    const v =
      route.adaptive && !exclude && typeof sticky === "string" && sticky && this.options.sticky
        ? this.options.sticky.pick(route, sticky, u)
        : (pickWeighted(route, u, exclude ?? undefined) ?? pickWeighted(route, u));
    if (!v) throw new HttpError(503, `no serving variant for ${route.endpointName}`, "service_unavailable");
    return v;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.abortReason) controller.abort(this.abortReason);
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    if (this.settled) return;
    this.status = statusCode;
    if (RETRYABLE_STATUS.has(statusCode) && this.attempt < this.options.maxAttempts) {
      this.discard = true;
      return;
    }
    this.headers = headers;
    if (statusCode < 400) {
      // Pinned traffic is a caller testing a chosen variant, not a user's request: it is not stored, like it is not counted.
      const capture = !this.pinned && this.options.capture?.captures(this.route, this.path) ? this.options.capture : null;
      this.requestId = this.options.ids.issue(this.requestId, this.target.idRoute, this.caller, this.pinned, capture !== null);
      if (capture) this.capture = capture.begin(this.route, this.variant, this.requestId, this.path, this.body, this.caller, this.stream);
    }
    if (statusCode < 400 && !this.pinned && this.route.shadow && this.options.shadow) {
      this.shadow = this.options.shadow.begin(this.route, this.variant, this.requestId, this.path, this.body, this.stream);
    }
    if (this.stream) {
      this.res.writeHead(statusCode, this.responseHeaders());
      // Headers go out at once so the client sees the stream open before the first token.
      this.res.flushHeaders();
      this.clientStarted = true;
    }
  }

  private responseHeaders(): Record<string, string | string[]> {
    const out: Record<string, string | string[]> = {};
    const headers = this.headers;
    for (const k in headers) {
      const v = headers[k];
      if (v !== undefined && !SKIP_RESPONSE_HEADERS.has(k)) out[k] = v;
    }
    out["x-request-id"] = this.requestId;
    out["x-loraplane-variant"] = this.variant.role;
    out["x-loraplane-model-version"] = this.variant.modelVersionId;
    return out;
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.settled || this.discard) return;
    if (!this.stream) {
      this.ttftMs ??= performance.now() - this.attemptStart;
      this.chunks.push(chunk);
      return;
    }
    if (this.status < 400) {
      const tokens = countField(chunk, CONTENT) + countField(chunk, TEXT);
      if (tokens) {
        this.tokens += tokens;
        this.ttftMs ??= performance.now() - this.attemptStart;
      }
      const usage = completionTokens(chunk);
      if (usage !== null) this.usageTokens = usage;
    }
    if (!this.res.write(chunk)) {
      // The client reads slower than the model writes: stop reading the upstream until it catches up.
      controller.pause();
      this.res.once("drain", () => controller.resume());
    }
    // After the write: the capture keeps a reference to the chunk already on its way.
    this.capture?.chunk(chunk);
    this.shadow?.chunk(chunk);
  }

  onResponseEnd(): void {
    if (this.settled) return;
    if (this.discard) {
      this.record("server_error");
      this.retry();
      return;
    }
    const status = this.status;
    let buf: Buffer | null = null;
    if (!this.stream) {
      // A non-streamed answer is complete before the upstream sends it: forward it in one write, with its length.
      buf = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
      const headers = this.responseHeaders();
      headers["content-length"] = String(buf.length);
      this.res.writeHead(status, headers);
      this.res.end(buf);
    } else this.res.end();
    // Bookkeeping after the answer is on its way.
    if (status < 400) {
      if (buf) {
        const usage = completionTokens(buf);
        if (usage !== null) this.usageTokens = usage;
      }
      this.capture?.end(buf);
      // The copy to a shadow candidate leaves only now, after the client's answer is complete.
      this.shadow?.end(buf, performance.now() - this.attemptStart, this.ttftMs);
    }
    this.record(status >= 500 ? "server_error" : status >= 400 ? "client_error" : "ok");
    this.settle();
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (this.settled) return;
    const timeout = UNDICI_TIMEOUTS.has((error as { code?: string }).code ?? "");
    if (this.clientStarted) {
      // Mid-stream: the client already has a status line, so the only honest signal left is a cut connection.
      this.record(timeout ? "timeout" : "server_error");
      this.res.destroy();
      this.settle();
      return;
    }
    if (timeout) {
      this.record("timeout");
      sendError(this.res, 504, "upstream timed out", "timeout");
      this.settle();
      return;
    }
    if (this.status && !this.discard) {
      this.record("server_error");
      sendError(this.res, 502, "upstream closed the response early", "upstream_error");
      this.settle();
      return;
    }
    this.record(this.status ? "server_error" : "upstream_unreachable");
    if (this.attempt < this.options.maxAttempts) {
      this.retry();
      return;
    }
    this.options.log.warn({ requestId: this.requestId, variant: this.variant.servedModelName, err: error.message }, "upstream failed");
    sendError(this.res, 502, "upstream unavailable", "upstream_error");
    this.settle();
  }

  private retry(): void {
    const exclude = (this.exclude ??= new Set()).add(this.variant.id);
    this.target.metrics.retries.inc();
    this.controller = null;
    const refresh = this.options.refresh;
    const again = () => {
      if (!this.settled) this.next();
    };
    if (!refresh) {
      // After undici has finished with the failed attempt, not from inside its callback.
      process.nextTick(again);
      return;
    }
    // Retry on the newest route: the failed variant may have left routing (a rollback, a restore) since this request
    // was routed. With nothing else left on the request's route, the table may be reloaded first.
    const stale = !this.route.weighted.some((v) => !exclude.has(v.id));
    const fresh = refresh(this.route, stale);
    const use = (r: TRoute | undefined) => {
      if (r) this.route = r;
      again();
    };
    if (fresh instanceof Promise) fresh.then(use, () => use(undefined));
    else process.nextTick(use, fresh);
  }

  timeout(): void {
    if (this.settled) return;
    this.record("timeout");
    if (this.clientStarted) this.res.destroy();
    else sendError(this.res, 504, "upstream timed out", "timeout");
    this.settle();
    this.abortUpstream(new Error("gateway timeout"));
  }

  clientGone(): void {
    if (this.settled) return;
    this.record("cancelled");
    this.settle();
    this.abortUpstream(new Error("client went away"));
  }

  private abortUpstream(reason: Error): void {
    // A request still queued for a connection has no controller yet: it is aborted as soon as it gets one.
    if (this.controller) this.controller.abort(reason);
    else this.abortReason = reason;
  }

  /** Records the current attempt once: the per-variant window (what rollouts judge) and Prometheus. */
  private record(outcome: TOutcome): void {
    if (this.attemptRecorded) return;
    this.attemptRecorded = true;
    const latencyMs = performance.now() - this.attemptStart;
    const tokens = this.usageTokens ?? this.tokens;
    const ttftMs = outcome === "cancelled" && !this.stream ? null : this.ttftMs;
    // Pinned traffic is chosen by the caller, not by the rollout's weights: counting it would let a caller steer the
    // analysis (promote or roll back a canary) by pinning requests to one variant.
    if (!this.pinned) this.options.recorder.record({ deploymentId: this.route.deploymentId, variantId: this.variant.id, outcome, latencyMs, ttftMs, outputTokens: tokens });
    const m = this.target.metrics;
    if (this.pinned) m.pinned.inc();
    m.outcome(outcome).inc();
    if (outcome !== "cancelled") m.duration.observe(latencyMs / 1000);
    if (ttftMs !== null) m.ttft.observe(ttftMs / 1000);
    if (tokens) m.tokens.inc(tokens);
  }

  private settle(): void {
    this.settled = true;
    clearTimeout(this.timer);
    this.options.metrics.inflight--;
  }
}
