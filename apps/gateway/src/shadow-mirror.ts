// Shadow evaluation on the gateway: while a canary is in its shadow phase (candidate ready at weight 0, policy
// shadow.enabled), a sampled share of the stable's answered requests is sent again to the candidate. The copy leaves
// only after the client's answer is complete (its latency is untouched), its answer never reaches any client, at most
// maxConcurrent copies are in flight per gateway (a request beyond that is dropped, never queued), and each pair is
// scored (@loraplane/core shadow.ts) and written in batches, at most maxStoredSamples per deployment.
import { performance } from "node:perf_hooks";
import { scoreShadowPair } from "@loraplane/core";
import { type Db, insertShadowSamples, type TShadowSampleWrite } from "@loraplane/db";
import client from "prom-client";
import { answerText, boundedPrompt, streamedText } from "./interaction-capture.ts";
import type { TLogger } from "./log.ts";
import type { TRoute, TRouteShadow, TRouteVariant } from "./routing.ts";
import { type Upstreams, splitUpstream } from "./upstreams.ts";

/** One stable answer being collected for a mirror: the proxy hands it the forwarded chunks, then the end. */
export interface TShadowSession {
  chunk(chunk: Buffer): void;
  /** `body`: the whole non-streamed answer (null for a stream); the stable attempt's latency and TTFT. */
  end(body: Buffer | null, latencyMs: number, ttftMs: number | null): void;
}

export interface TShadowMirrorOptions {
  db: Db;
  log: TLogger;
  registry: client.Registry;
  upstreams: Upstreams;
  gatewayId: string;
  flushIntervalMs: number;
  timeoutMs: number;
  upstreamApiKey?: string | null;
  /** Header marking a mirrored request for the model server's logs and counters. */
  shadowHeader?: string;
  /** Stored characters per answer and per prompt. */
  maxTextChars?: number;
  /** Scored pairs held in memory before a write; beyond it new ones are dropped. */
  maxPending?: number;
  /** Sampling source (tests pass a seeded one). */
  random?: () => number;
}

const MIRRORED_OPS = new Set(["/v1/chat/completions", "/v1/completions"]);
const RAW_LIMIT = 512 * 1024;

export class ShadowMirror {
  private inflight = 0;
  private pending: TShadowSampleWrite[] = [];
  /** Pairs stored per deployment as of the last write: a full deployment is no longer mirrored. */
  private stored = new Map<string, number>();
  private limits = new Map<string, number>();
  private flushing: Promise<void> | null = null;
  private readonly timer: NodeJS.Timeout;
  private readonly outcomes: client.Counter<"outcome">;
  private readonly maxText: number;
  private readonly maxPending: number;
  private readonly random: () => number;
  readonly header: string;

  constructor(private readonly options: TShadowMirrorOptions) {
    this.maxText = options.maxTextChars ?? 8_000;
    this.maxPending = options.maxPending ?? 2_000;
    this.random = options.random ?? Math.random;
    this.header = options.shadowHeader ?? "x-loraplane-shadow";
    this.outcomes = new client.Counter({
      name: "loraplane_gateway_shadow_requests_total",
      help: "Requests mirrored to a shadow candidate, by outcome: answered, failed (candidate error/timeout), dropped (concurrency bound), skipped (stored limit reached)",
      labelNames: ["outcome"],
      registers: [options.registry],
    });
    this.timer = setInterval(() => void this.flush(), options.flushIntervalMs);
    this.timer.unref();
  }

  /** A session for this request when its route is in a shadow phase and the sample draws it; null otherwise. */
  begin(route: TRoute, served: TRouteVariant, requestId: string, path: string, body: Record<string, unknown>, stream: boolean): TShadowSession | null {
    const shadow = route.shadow;
    if (!shadow || served.id === shadow.candidate.id || !MIRRORED_OPS.has(path)) return null;
    if (this.random() >= shadow.fraction) return null;
    if ((this.stored.get(route.deploymentId) ?? 0) >= shadow.maxStoredSamples) {
      this.outcomes.inc({ outcome: "skipped" });
      return null;
    }
    // The body is reused by the proxy (its model is rewritten per attempt): the copy is taken now.
    const copy = { ...body, model: shadow.candidate.servedModelName };
    const chunks: Buffer[] = [];
    let raw = 0;
    return {
      chunk(chunk) {
        if (raw + chunk.length > RAW_LIMIT) return;
        chunks.push(chunk);
        raw += chunk.length;
      },
      end: (buf, latencyMs, ttftMs) => {
        // Saturated: dropped here, so the copy never waits behind others (and never grows a queue).
        if (this.inflight >= shadow.maxConcurrent) {
          this.outcomes.inc({ outcome: "dropped" });
          return;
        }
        const stableText = buf ? textOfJson(buf) : streamedText(Buffer.concat(chunks).toString("utf8"));
        this.inflight++;
        void this.mirror(route, shadow, requestId, path, copy, stream, { stableText, latencyMs, ttftMs }).finally(() => {
          this.inflight--;
        });
      },
    };
  }

  private async mirror(
    route: TRoute,
    shadow: TRouteShadow,
    requestId: string,
    path: string,
    body: Record<string, unknown>,
    stream: boolean,
    stable: { stableText: string; latencyMs: number; ttftMs: number | null },
  ): Promise<void> {
    const { origin, basePath } = splitUpstream(shadow.candidate.upstreamUrl);
    const start = performance.now();
    let ttftMs: number | null = null;
    let candidateText: string | null = null;
    let candidateError: string | null = null;
    try {
      const res = await this.options.upstreams.pool(origin).request({
        path: basePath + path,
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-request-id": `${requestId}-shadow`,
          [this.header]: "1",
          ...(stream ? { accept: "text/event-stream" } : {}),
          ...(this.options.upstreamApiKey ? { authorization: `Bearer ${this.options.upstreamApiKey}` } : {}),
        },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      const parts: Buffer[] = [];
      let size = 0;
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        ttftMs ??= performance.now() - start;
        if (size < RAW_LIMIT) parts.push(chunk);
        size += chunk.length;
      }
      const raw = Buffer.concat(parts);
      if (res.statusCode >= 400) candidateError = `HTTP ${res.statusCode}`;
      else candidateText = stream ? streamedText(raw.toString("utf8")) : textOfJson(raw);
    } catch (error) {
      candidateError = (error as Error).name === "TimeoutError" ? "timeout" : `unreachable: ${(error as Error).message}`.slice(0, 200);
    }
    const latencyMs = performance.now() - start;
    const score = scoreShadowPair({ stableText: stable.stableText, candidateText, candidateError });
    this.outcomes.inc({ outcome: candidateError ? "failed" : "answered" });
    if (this.pending.length >= this.maxPending) return;
    this.limits.set(route.deploymentId, shadow.maxStoredSamples);
    this.pending.push({
      deploymentId: route.deploymentId,
      variantId: shadow.candidate.id,
      gatewayId: this.options.gatewayId,
      requestId,
      prompt: JSON.stringify(boundedPrompt(body, this.maxText).prompt).slice(0, this.maxText),
      stableText: stable.stableText.slice(0, this.maxText),
      candidateText: candidateText?.slice(0, this.maxText) ?? null,
      candidateError,
      ...score,
      stableChars: stable.stableText.length,
      candidateChars: candidateText?.length ?? 0,
      stableLatencyMs: stable.latencyMs,
      candidateLatencyMs: candidateError ? null : latencyMs,
      stableTtftMs: stable.ttftMs,
      candidateTtftMs: candidateError ? null : ttftMs,
    });
  }

  /** Mirrors still in flight (tests wait for them before flushing). */
  get inFlight(): number {
    return this.inflight;
  }

  /** Writes the scored pairs held in memory (also runs every flushIntervalMs). */
  async flush(): Promise<void> {
    if (this.flushing) return this.flushing.then(() => this.flush());
    const rows = this.pending;
    if (rows.length === 0) return;
    this.pending = [];
    this.flushing = insertShadowSamples(this.options.db, rows, (id) => this.limits.get(id) ?? 0)
      .then((stored) => {
        for (const [id, n] of stored) this.stored.set(id, n);
      })
      .catch((error: unknown) => {
        // Lost rather than retried: a shadow sample is evidence, not a record anyone is owed.
        this.options.log.warn({ err: (error as Error).message, rows: rows.length }, "shadow sample write failed");
      })
      .finally(() => {
        this.flushing = null;
      });
    return this.flushing;
  }

  close(): void {
    clearInterval(this.timer);
  }
}

function textOfJson(buf: Buffer): string {
  try {
    return answerText(JSON.parse(buf.toString("utf8")));
  } catch {
    return "";
  }
}
