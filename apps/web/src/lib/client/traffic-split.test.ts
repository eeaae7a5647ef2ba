import { describe, expect, it } from "vitest";
import { trafficSplitHistory } from "./traffic-split";
import type { TRolloutEvent } from "./types";

let id = 0;
const at = (minute: number) => new Date(Date.UTC(2026, 10, 30, 10, minute)).toISOString();
const event = (minute: number, type: string, weights: Record<string, number> | null, reason = type): TRolloutEvent => ({ id: `e${id++}`, type, weights, reason, createdAt: at(minute) });

describe("trafficSplitHistory", () => {
  it("keeps one point per change of the split, oldest first, with the event that made it", () => {
    const history = trafficSplitHistory(
      [
        event(10, "reweight", { a: 3900, b: 6100 }, "adaptive split b 5000 → 6100 bps: P(b best) 0.701"),
        event(0, "created", { a: 10_000, b: 0 }),
        event(2, "step", { a: 5000, b: 5000 }, "traffic started"),
        event(5, "analysis", null, "within SLOs"),
        event(12, "pause", { a: 3900, b: 6100 }),
        event(14, "resume", { a: 3900, b: 6100 }),
        event(20, "reweight", { a: 1400, b: 8600 }, "adaptive split b 6100 → 8600 bps: P(b best) 0.930"),
      ],
      { roles: ["a", "b"] },
    );
    expect(history.roles).toEqual(["a", "b"]);
    expect(history.changes).toBe(4);
    expect(history.points.map((p) => [p.t, p.shares, p.event?.type])).toEqual([
      [Date.parse(at(0)), { a: 100, b: 0 }, "created"],
      [Date.parse(at(2)), { a: 50, b: 50 }, "step"],
      [Date.parse(at(10)), { a: 39, b: 61 }, "reweight"],
      [Date.parse(at(20)), { a: 14, b: 86 }, "reweight"],
    ]);
    expect(history.points[3]!.event?.reason).toBe("adaptive split b 6100 → 8600 bps: P(b best) 0.930");
  });

  it("carries the last split to now while the deployment is live, and not before its last change", () => {
    const events = [event(0, "step", { stable: 9500, canary: 500 }), event(10, "step", { stable: 7500, canary: 2500 })];
    const now = Date.parse(at(15));
    const live = trafficSplitHistory(events, { roles: ["stable", "canary"], now });
    expect(live.changes).toBe(2);
    expect(live.points.at(-1)).toEqual({ t: now, shares: { stable: 75, canary: 25 }, event: null });
    expect(trafficSplitHistory(events, { now: Date.parse(at(5)) }).points).toHaveLength(2);
    expect(trafficSplitHistory(events).points).toHaveLength(2);
  });

  it("shows shares as the gateway routes them: a first version alone at a 5% step takes every request", () => {
    const history = trafficSplitHistory([event(0, "step", { canary: 500 }), event(5, "rollback", { canary: 0 }, "no healthy version")], { roles: ["canary"] });
    expect(history.points.map((p) => p.shares)).toEqual([{ canary: 100 }, { canary: 0 }]);
  });

  it("adds roles only an event names after the deployment's, and counts a role an event leaves out as 0", () => {
    const history = trafficSplitHistory([event(0, "created", { blue: 10_000 }), event(1, "switch", { blue: 0, green: 10_000 }), event(2, "set_split", { blue: 3333, green: 6667 })], { roles: ["blue"] });
    expect(history.roles).toEqual(["blue", "green"]);
    expect(history.points.map((p) => p.shares)).toEqual([
      { blue: 100, green: 0 },
      { blue: 0, green: 100 },
      { blue: 33.3, green: 66.7 },
    ]);
  });

  it("has nothing to draw without weighted events, and one point for a split that never changed", () => {
    expect(trafficSplitHistory([event(0, "policy", null)], { now: Date.parse(at(5)) })).toEqual({ roles: [], points: [], changes: 0 });
    const still = trafficSplitHistory([event(0, "step", { stable: 10_000, canary: 0 }), event(3, "rollback", { stable: 10_000, canary: 0 })]);
    expect(still.changes).toBe(1);
  });
});
