// Stores the prompt and response of answered requests for environments that opted in (captureFeedbackData), so that
// feedback and reviewers' corrections can turn them into training data. Nothing here is on the client's latency path:
// a streamed answer is collected by reference as its chunks are forwarded (never buffered before forwarding), the
// text is assembled after the last byte went out, and rows are written in batches on a timer. A failure to store is
// logged and counted, never seen by the client.
import { type Db, insertInteractions, rateInteraction, type TInteractionWrite } from "@loraplane/db";
import client from "prom-client";
import type { TCaller } from "./auth.ts";
import type { TLogger } from "./log.ts";
import type { TRoute, TRouteVariant } from "./routing.ts";

/** One request being captured: the proxy hands it every forwarded chunk (streams) and then the end of the answer. */
export interface TCaptureSession {
  chunk(chunk: Buffer): void;
  /** `body`: the whole non-streamed answer; null for a stream (its chunks were handed over). */
  end(body: Buffer | null): void;
}

export interface TInteractionCaptureOptions {
  db: Db;
  log: TLogger;
  registry: client.Registry;
  flushIntervalMs: number;
  /** Interactions held in memory while Postgres is slow or down; beyond it new ones are dropped (and counted). */
  maxPending?: number;
  /** Bound on the stored prompt (serialised JSON) and on the stored response text, in characters. */
  maxPromptChars?: number;
  maxResponseChars?: number;
  /** Rows per INSERT. */
  batchSize?: number;
  /**
   * How long a rating whose row is not stored yet is retried (the answer may come from another gateway, which writes
   * it on its own flush); default the larger of a minute and six flush intervals.
   */
  ratingWaitMs?: number;
}

const CAPTURED_OPS = new Set(["/v1/chat/completions", "/v1/completions"]);

type TPending = TInteractionWrite;

/** The text of an OpenAI-style answer: the first choice's message content (chat) or text (completions). */
export function answerText(json: unknown): string {
  const choice = (json as { choices?: { message?: { content?: unknown }; text?: unknown }[] } | null)?.choices?.[0];
  const content = choice?.message?.content ?? choice?.text;
  return typeof content === "string" ? content : "";
}

/** The text of a streamed answer, from its SSE bytes: the first choice's delta content (chat) or text, in order. */
export function streamedText(raw: string): string {
  let out = "";
  for (const line of raw.split("\n")) {
    if (!line.startsWith("data:")) continue;
    const data = line.slice(5).trim();
    if (!data || data === "[DONE]") continue;
    try {
      const event = JSON.parse(data) as { choices?: { index?: number; delta?: { content?: unknown }; text?: unknown }[] };
      for (const c of event.choices ?? []) {
        if ((c.index ?? 0) !== 0) continue;
        const piece = c.delta?.content ?? c.text;
        if (typeof piece === "string") out += piece;
      }
    } catch {
      // A malformed event (or one cut by the capture bound) adds nothing.
    }
  }
  return out;
}

/**
 * The prompt as stored: `{ messages }` for chat, `{ prompt }` for completions, bounded to `max` characters of JSON
 * by keeping the newest messages (and cutting one oversized message's content).
 */
export function boundedPrompt(body: Record<string, unknown>, max: number): { prompt: object; truncated: boolean } {
  if (Array.isArray(body.messages)) {
    const kept: unknown[] = [];
    let size = 2;
    let truncated = false;
    for (let i = body.messages.length - 1; i >= 0; i--) {
      let m = body.messages[i] as Record<string, unknown>;
      let s = JSON.stringify(m).length + 1;
      if (size + s > max) {
        truncated = true;
        if (kept.length > 0 || typeof m?.content !== "string") break;
        m = { ...m, content: (m.content as string).slice(0, Math.max(0, max - 200)) };
        s = JSON.stringify(m).length + 1;
      }
      kept.unshift(m);
      size += s;
    }
    return { prompt: { messages: kept }, truncated };
  }
  const prompt = typeof body.prompt === "string" || Array.isArray(body.prompt) ? body.prompt : "";
  const text = typeof prompt === "string" ? prompt : JSON.stringify(prompt);
  if (text.length <= max) return { prompt: { prompt }, truncated: false };
  return { prompt: { prompt: text.slice(0, max) }, truncated: true };
}

export class InteractionCapture {
  private readonly maxPending: number;
  private readonly maxPromptChars: number;
  private readonly maxResponseChars: number;
  private readonly batchSize: number;
  private readonly ratingWaitMs: number;
  /** Not yet handed to an INSERT, by request id (feedback arriving early is set on the row itself). */
  private pending = new Map<string, TPending>();
  /** Ratings for rows already handed to an INSERT: applied after it. */
  private ratings: { requestId: string; rating: "up" | "down"; comment: string | null; at: Date }[] = [];
  private flushing: Promise<void> | null = null;
  private readonly timer: NodeJS.Timeout;
  private readonly outcomes: client.Counter<"outcome">;

  constructor(private readonly options: TInteractionCaptureOptions) {
    this.maxPending = options.maxPending ?? 10_000;
    this.maxPromptChars = options.maxPromptChars ?? 64 * 1024;
    this.maxResponseChars = options.maxResponseChars ?? 64 * 1024;
    this.batchSize = options.batchSize ?? 500;
    this.ratingWaitMs = options.ratingWaitMs ?? Math.max(60_000, 6 * options.flushIntervalMs);
    this.outcomes = new client.Counter({
      name: "loraplane_gateway_interactions_total",
      help: "Captured interactions (environments with captureFeedbackData) by outcome: stored, dropped (memory bound), failed (store error)",
      labelNames: ["outcome"],
      registers: [options.registry],
    });
    this.timer = setInterval(() => void this.flush(), options.flushIntervalMs);
    this.timer.unref();
  }

  /** Whether answers to `path` on this route are stored: its environment opted in and the operation has a text answer. */
  captures(route: TRoute, path: string): boolean {
    return route.captureFeedbackData === true && CAPTURED_OPS.has(path);
  }

  /** A capture for this request, or null when its environment did not opt in or the operation has no text answer. */
  begin(route: TRoute, variant: TRouteVariant, requestId: string, path: string, body: Record<string, unknown>, caller: TCaller | null, stream: boolean): TCaptureSession | null {
    if (!this.captures(route, path)) return null;
    const createdAt = new Date();
    // The raw SSE bytes carry JSON framing around the text: allow several times the text bound before cutting.
    const rawLimit = this.maxResponseChars * 4;
    const chunks: Buffer[] = [];
    let rawBytes = 0;
    let cut = false;
    return {
      chunk(chunk) {
        if (cut) return;
        if (rawBytes + chunk.length > rawLimit) {
          cut = true;
          return;
        }
        chunks.push(chunk);
        rawBytes += chunk.length;
      },
      end: (answer) => {
        try {
          let text = stream ? streamedText(Buffer.concat(chunks).toString("utf8")) : answer ? answerText(JSON.parse(answer.toString("utf8"))) : "";
          let truncated = cut;
          if (text.length > this.maxResponseChars) {
            text = text.slice(0, this.maxResponseChars);
            truncated = true;
          }
          const p = boundedPrompt(body, this.maxPromptChars);
          this.add({
            requestId,
            projectId: route.projectId,
            environmentId: route.environmentId,
            deploymentId: route.deploymentId,
            variantId: variant.id,
            variantRole: variant.role,
            modelVersionId: variant.modelVersionId,
            endpointName: route.endpointName,
            operation: path.slice(4),
            prompt: p.prompt,
            response: text,
            truncated: truncated || p.truncated,
            streamed: stream,
            tokenId: caller?.tokenId ?? null,
            userId: caller?.userId ?? null,
            rating: null,
            comment: null,
            ratedAt: null,
            createdAt,
          });
        } catch (error) {
          this.outcomes.inc({ outcome: "failed" });
          this.options.log.warn({ requestId, err: (error as Error).message }, "interaction capture failed; the request was answered");
        }
      },
    };
  }

  private add(row: TPending): void {
    if (this.pending.size >= this.maxPending) {
      this.outcomes.inc({ outcome: "dropped" });
      return;
    }
    this.pending.set(row.requestId, row);
  }

  /** The caller's thumbs-up/down (and comment) for a captured request, answered by this gateway or another. */
  feedback(requestId: string, rating: "up" | "down", comment: string | null): void {
    const at = new Date();
    const row = this.pending.get(requestId);
    if (row) {
      row.rating = rating;
      row.comment = comment;
      row.ratedAt = at;
      return;
    }
    if (this.ratings.length >= this.maxPending) {
      this.outcomes.inc({ outcome: "dropped" });
      return;
    }
    this.ratings.push({ requestId, rating, comment, at });
  }

  get pendingCount(): number {
    return this.pending.size + this.ratings.length;
  }

  /** Writes what is pending now (also runs every flushIntervalMs); never throws. */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing.then(() => this.flush());
    this.flushing = this.write().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  private async write(): Promise<void> {
    const { db, log } = this.options;
    const rows = [...this.pending.values()];
    this.pending.clear();
    const ratings = this.ratings;
    this.ratings = [];
    for (let i = 0; i < rows.length; i += this.batchSize) {
      const batch = rows.slice(i, i + this.batchSize);
      try {
        await insertInteractions(db, batch);
        this.outcomes.inc({ outcome: "stored" }, batch.length);
      } catch (error) {
        // One bad row (its deployment deleted meanwhile) must not take the batch with it: retry row by row; rows that
        // still fail while Postgres is unreachable go back to pending for the next flush.
        log.warn({ err: (error as Error).message, rows: batch.length }, "interaction batch insert failed; retrying row by row");
        for (const row of batch) {
          try {
            await insertInteractions(db, [row]);
            this.outcomes.inc({ outcome: "stored" });
          } catch {
            if (this.pending.size < this.maxPending && !this.pending.has(row.requestId)) this.pending.set(row.requestId, row);
            else this.outcomes.inc({ outcome: "failed" });
          }
        }
      }
    }
    for (const r of ratings) {
      try {
        const updated = await rateInteraction(db, r.requestId, r.rating, r.comment, r.at);
        if (updated === 0) {
          const row = this.pending.get(r.requestId);
          if (row) Object.assign(row, { rating: r.rating, comment: r.comment, ratedAt: r.at });
          // Answered by another gateway that has not written the row yet: rated again on the next flushes.
          else if (Date.now() - r.at.getTime() < this.ratingWaitMs && this.ratings.length < this.maxPending) this.ratings.push(r);
          else this.outcomes.inc({ outcome: "dropped" });
        }
      } catch (error) {
        log.warn({ err: (error as Error).message, requestId: r.requestId }, "storing feedback failed; will retry");
        if (this.ratings.length < this.maxPending) this.ratings.push(r);
        else this.outcomes.inc({ outcome: "dropped" });
      }
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
