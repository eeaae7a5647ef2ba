import { describe, expect, it } from "vitest";
import { histogramCount } from "@loraplane/core";
import { WindowRecorder } from "../src/window-recorder.ts";

describe("WindowRecorder", () => {
  it("classifies outcomes, buckets by window and re-sends only changed windows", () => {
    const r = new WindowRecorder("gw", 5);
    const t0 = Date.UTC(2026, 0, 1, 0, 0, 0);
    const base = { deploymentId: "d", variantId: "v", ttftMs: 3, outputTokens: 4 };
    r.record({ ...base, outcome: "ok", latencyMs: 10, at: t0 });
    r.record({ ...base, outcome: "server_error", latencyMs: 10, at: t0 + 1000 });
    r.record({ ...base, outcome: "timeout", latencyMs: 10, at: t0 + 2000 });
    r.record({ ...base, outcome: "client_error", latencyMs: 10, at: t0 + 3000 });
    r.record({ ...base, outcome: "cancelled", latencyMs: 10, ttftMs: null, at: t0 + 4000 });
    r.record({ ...base, outcome: "ok", latencyMs: 10, at: t0 + 5000 });
    const rows = r.pending();
    expect(rows).toHaveLength(2);
    const first = rows.find((x) => x.row.windowStart.getTime() === t0)!.row;
    expect(first).toMatchObject({ requests: 5, errors: 2, errors5xx: 1, timeouts: 1, errors4xx: 1, outputTokens: 20, gatewayId: "gw", windowSeconds: 5 });
    expect(histogramCount(first.latencyHist)).toBe(4);
    r.flushed(rows, t0 + 6000);
    expect(r.pending()).toHaveLength(0);
    r.feedback("d", "v", true);
    expect(r.pending()).toHaveLength(1);
  });

  it("keeps counting into a window after it was written, and into a new one after an old one was dropped", () => {
    const r = new WindowRecorder("gw", 5);
    const t0 = Date.UTC(2026, 0, 1, 0, 0, 0);
    const e = { deploymentId: "d", variantId: "v", outcome: "ok" as const, latencyMs: 10, ttftMs: null, outputTokens: 1 };
    r.record({ ...e, at: t0 });
    r.flushed(r.pending(), t0 + 1000);
    r.record({ ...e, at: t0 + 2000 });
    expect(r.pending().map((x) => x.row.requests)).toEqual([2]);
    r.flushed(r.pending(), t0 + 60_000);
    expect(r.size).toBe(0);
    // A late record for the dropped window starts it again; the newer window is not displaced by it.
    r.record({ ...e, at: t0 + 60_000 });
    r.record({ ...e, at: t0 + 3000 });
    r.record({ ...e, at: t0 + 61_000 });
    expect(r.pending().map((x) => [x.row.windowStart.getTime() - t0, x.row.requests])).toEqual([
      [60_000, 2],
      [0, 1],
    ]);
  });
});
