import { emptyHistogram, recordValue } from "@loraplane/core";
import type { TServingWindowTotals, TServingWindowWrite } from "@loraplane/db";

export type TOutcome = "ok" | "client_error" | "server_error" | "timeout" | "upstream_unreachable" | "cancelled";

interface TWindow extends TServingWindowTotals {
  deploymentId: string;
  variantId: string;
  windowStart: number;
  dirty: boolean;
}

/**
 * Per-variant, per-time-window totals kept in memory and written to ServingWindow as cumulative values. A window is
 * rewritten while it is open or unflushed (the upsert overwrites, so a retried flush never double counts), and kept
 * while Postgres is down, up to `retainMs`.
 */
export class WindowRecorder {
  private windows = new Map<string, TWindow>();
  /** Each variant's latest window: a request finds it without building its key (no string per request). */
  private latest = new Map<string, TWindow>();

  constructor(
    readonly gatewayId: string,
    readonly windowSeconds: number,
    private readonly retainMs = 15 * 60_000,
  ) {}

  private window(deploymentId: string, variantId: string, at: number): TWindow {
    const windowStart = Math.floor(at / 1000 / this.windowSeconds) * this.windowSeconds * 1000;
    let w = this.latest.get(variantId);
    if (w?.windowStart === windowStart) {
      w.dirty = true;
      return w;
    }
    const key = `${variantId}|${windowStart}`;
    w = this.windows.get(key);
    if (!w) {
      w = {
        deploymentId,
        variantId,
        windowStart,
        requests: 0,
        errors: 0,
        errors4xx: 0,
        errors5xx: 0,
        timeouts: 0,
        latencyHist: emptyHistogram(),
        ttftHist: emptyHistogram(),
        latencySumMs: 0,
        outputTokens: 0,
        feedbackUp: 0,
        feedbackDown: 0,
        dirty: true,
      };
      this.windows.set(key, w);
    }
    if (!(windowStart < (this.latest.get(variantId)?.windowStart ?? -Infinity))) this.latest.set(variantId, w);
    w.dirty = true;
    return w;
  }

  /** One finished attempt. Cancelled requests count as requests but neither errors nor latency samples. */
  record(e: { deploymentId: string; variantId: string; outcome: TOutcome; latencyMs: number; ttftMs: number | null; outputTokens: number; at?: number }): void {
    const w = this.window(e.deploymentId, e.variantId, e.at ?? Date.now());
    w.requests++;
    switch (e.outcome) {
      case "client_error":
        w.errors4xx++;
        break;
      case "server_error":
      case "upstream_unreachable":
        w.errors++;
        w.errors5xx++;
        break;
      case "timeout":
        w.errors++;
        w.timeouts++;
        break;
      default:
        break;
    }
    if (e.outcome !== "cancelled") {
      recordValue(w.latencyHist, e.latencyMs);
      w.latencySumMs += e.latencyMs;
      if (e.ttftMs !== null) recordValue(w.ttftHist, e.ttftMs);
    }
    w.outputTokens += e.outputTokens;
  }

  feedback(deploymentId: string, variantId: string, up: boolean): void {
    const w = this.window(deploymentId, variantId, Date.now());
    if (up) w.feedbackUp++;
    else w.feedbackDown++;
  }

  /** Rows to write now; call `flushed(rows)` after the write succeeded. */
  pending(): { key: string; row: TServingWindowWrite }[] {
    const out: { key: string; row: TServingWindowWrite }[] = [];
    for (const [key, w] of this.windows) {
      if (!w.dirty) continue;
      const { dirty: _d, windowStart, ...rest } = w;
      out.push({
        key,
        row: { ...rest, latencyHist: [...rest.latencyHist], ttftHist: [...rest.ttftHist], windowStart: new Date(windowStart), gatewayId: this.gatewayId, windowSeconds: this.windowSeconds },
      });
    }
    return out;
  }

  /** Marks rows written; a window changed since its snapshot stays dirty. Closed, clean windows are dropped. */
  flushed(rows: { key: string; row: TServingWindowWrite }[], now = Date.now()): void {
    for (const { key, row } of rows) {
      const w = this.windows.get(key);
      if (w && w.requests === row.requests && w.feedbackUp === row.feedbackUp && w.feedbackDown === row.feedbackDown) w.dirty = false;
    }
    const closedBefore = now - this.windowSeconds * 1000 * 2;
    for (const [key, w] of this.windows) {
      if ((!w.dirty && w.windowStart < closedBefore) || w.windowStart < now - this.retainMs) {
        this.windows.delete(key);
        if (this.latest.get(w.variantId) === w) this.latest.delete(w.variantId);
      }
    }
  }

  get size(): number {
    return this.windows.size;
  }
}
