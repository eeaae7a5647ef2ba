import { describe, expect, it } from "vitest";
import { decideSweepStep, sweepPointIndex, sweepPointKey, ZSweepCreate } from "../../src/pipeline/sweep-schedule.ts";

describe("decideSweepStep", () => {
  it("starts with as many points as the concurrency allows, lowest first", () => {
    expect(decideSweepStep({ pointCount: 4, concurrency: 2, runs: [] })).toEqual({ trigger: [0, 1], finished: false, active: 0 });
  });

  it("triggers nothing while the limit is reached", () => {
    const step = decideSweepStep({ pointCount: 4, concurrency: 2, runs: [{ index: 0, status: "running" }, { index: 1, status: "queued" }] });
    expect(step.trigger).toEqual([]);
    expect(step.finished).toBe(false);
  });

  it("fills exactly the slot a finished run frees, whatever the finished run's outcome", () => {
    for (const status of ["succeeded", "failed", "blocked", "cancelled"] as const) {
      const step = decideSweepStep({ pointCount: 4, concurrency: 2, runs: [{ index: 0, status }, { index: 1, status: "running" }] });
      expect(step.trigger).toEqual([2]);
    }
  });

  it("is idempotent: the same Postgres state gives the same decision (a repeated call triggers the same keys)", () => {
    const runs = [{ index: 0, status: "succeeded" as const }, { index: 2, status: "running" as const }];
    const a = decideSweepStep({ pointCount: 5, concurrency: 3, runs });
    expect(a).toEqual(decideSweepStep({ pointCount: 5, concurrency: 3, runs }));
    // A gap (point 1 never got its run, e.g. a crash between two triggers) is filled before later points.
    expect(a.trigger).toEqual([1, 3]);
  });

  it("counts a waiting_approval run as active", () => {
    expect(decideSweepStep({ pointCount: 3, concurrency: 1, runs: [{ index: 0, status: "waiting_approval" }] }).trigger).toEqual([]);
  });

  it("never exceeds the limit even when Postgres holds more active runs than it allows", () => {
    const runs = [0, 1, 2].map((index) => ({ index, status: "running" as const }));
    expect(decideSweepStep({ pointCount: 6, concurrency: 2, runs })).toEqual({ trigger: [], finished: false, active: 3 });
  });

  it("is finished only when every point has a terminal run", () => {
    const done = [0, 1, 2].map((index) => ({ index, status: "succeeded" as const }));
    expect(decideSweepStep({ pointCount: 3, concurrency: 2, runs: done }).finished).toBe(true);
    expect(decideSweepStep({ pointCount: 4, concurrency: 2, runs: done })).toEqual({ trigger: [3], finished: false, active: 0 });
  });

  it("a cancelled sweep triggers nothing and finishes when its active runs end", () => {
    expect(decideSweepStep({ pointCount: 4, concurrency: 2, runs: [{ index: 0, status: "running" }], cancelled: true })).toEqual({ trigger: [], finished: false, active: 1 });
    expect(decideSweepStep({ pointCount: 4, concurrency: 2, runs: [{ index: 0, status: "cancelled" }], cancelled: true }).finished).toBe(true);
  });
});

describe("sweep point keys", () => {
  it("round-trips and refuses another sweep's key", () => {
    expect(sweepPointIndex("s1", sweepPointKey("s1", 12))).toBe(12);
    expect(sweepPointIndex("s2", sweepPointKey("s1", 12))).toBeNull();
    expect(sweepPointIndex("s1", "sweep:s1:x")).toBeNull();
    expect(sweepPointIndex("s1", null)).toBeNull();
  });
});

describe("ZSweepCreate", () => {
  it("takes the sweep block plus a concurrency limit and reports field paths", () => {
    const ok = ZSweepCreate.parse({ metric: "exact_match", grid: { "training.learningRate": [1e-4, 3e-4] }, concurrency: 3 });
    expect(ok).toMatchObject({ concurrency: 3, direction: "max", grid: { "training.learningRate": [1e-4, 3e-4] } });
    const bad = ZSweepCreate.safeParse({ metric: "exact_match", grid: { "model.baseModel": ["x"] }, concurrency: 0 });
    expect(bad.success).toBe(false);
    const paths = bad.error!.issues.map((i) => i.path.join("."));
    expect(paths).toContain("concurrency");
    expect(paths).toContain("grid.model.baseModel");
  });
});
