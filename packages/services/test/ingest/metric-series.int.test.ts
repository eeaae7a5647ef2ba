// Metric rollups and server-side downsampling against real Postgres: rollups must always equal a recomputation from
// the stored points, and M4 output must equal an independent in-memory M4 over those points.
import { METRIC_ROLLUP_STEPS } from "@loraplane/core";
import type { Db } from "@loraplane/db";
import { useTestDb } from "@loraplane/db/testing";
import { describe, expect, it } from "vitest";
import { NotFoundError, ValidationError } from "../../src/errors.ts";
import { ingestMetricPoints, queryMetricSeries } from "../../src/ingest/index.ts";

const t = useTestDb("metric_series");

async function createRun(db: Db): Promise<string> {
  const label = Math.random().toString(36).slice(2, 8);
  const project = await db.project.create({ data: { slug: `m-${label}`, name: label }, select: { id: true } });
  const pipeline = await db.pipeline.create({ data: { projectId: project.id, name: label, spec: {} }, select: { id: true } });
  const run = await db.pipelineRun.create({ data: { projectId: project.id, pipelineId: pipeline.id, number: 1, trigger: "api", specVersion: 1, resolvedSpec: {} }, select: { id: true } });
  return run.id;
}

interface TPoint {
  step: number;
  value: number;
}

async function storedPoints(db: Db, runId: string, key: string) {
  return db.metricPoint.findMany({ where: { series: { runId, key } }, select: { step: true, value: true, wallTime: true }, orderBy: { step: "asc" } });
}

const byMin = <P extends TPoint>(a: P, b: P): P => (a.value < b.value || (a.value === b.value && a.step < b.step) ? a : b);
const byMax = <P extends TPoint>(a: P, b: P): P => (a.value > b.value || (a.value === b.value && a.step < b.step) ? a : b);

/** What MetricRollup must hold, computed from scratch in memory. */
function expectedRollups(points: readonly TPoint[]) {
  const buckets = new Map<number, TPoint[]>();
  for (const p of points) {
    const b = Math.floor(p.step / METRIC_ROLLUP_STEPS);
    buckets.set(b, [...(buckets.get(b) ?? []), p]);
  }
  return [...buckets.entries()]
    .sort(([a], [b]) => a - b)
    .map(([bucket, ps]) => {
      const sorted = [...ps].sort((a, b) => a.step - b.step);
      const min = ps.reduce(byMin);
      const max = ps.reduce(byMax);
      return {
        bucket,
        count: ps.length,
        firstStep: sorted[0]!.step,
        firstValue: sorted[0]!.value,
        lastStep: sorted.at(-1)!.step,
        lastValue: sorted.at(-1)!.value,
        minStep: min.step,
        minValue: min.value,
        maxStep: max.step,
        maxValue: max.value,
      };
    });
}

async function storedRollups(db: Db, runId: string, key: string) {
  return db.metricRollup.findMany({
    where: { series: { runId, key } },
    select: { bucket: true, count: true, firstStep: true, firstValue: true, lastStep: true, lastValue: true, minStep: true, minValue: true, maxStep: true, maxValue: true },
    orderBy: { bucket: "asc" },
  });
}

/** Independent M4: `buckets` equal ranges of unit (step, or rollup bucket) over [lo, hi]. */
function expectedM4(points: readonly TPoint[], buckets: number, unitOf: (step: number) => number): number[] {
  const units = points.map((p) => unitOf(p.step));
  const lo = Math.min(...units);
  const hi = Math.max(...units);
  const groups = new Map<number, TPoint[]>();
  for (const p of points) {
    const g = Math.floor(((unitOf(p.step) - lo) * buckets) / (hi - lo + 1));
    groups.set(g, [...(groups.get(g) ?? []), p]);
  }
  const steps = new Set<number>();
  for (const ps of groups.values()) {
    steps.add(Math.min(...ps.map((p) => p.step)));
    steps.add(Math.max(...ps.map((p) => p.step)));
    steps.add(ps.reduce(byMin).step);
    steps.add(ps.reduce(byMax).step);
  }
  return [...steps].sort((a, b) => a - b);
}

const batch = (key: string, steps: readonly number[], value: (step: number) => number) => steps.map((step) => ({ key, step, value: value(step), timestamp: 1_700_000_000_000 + step }));
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

describe("metric rollups", () => {
  it("equal a recomputation from the stored points after overlapping, out-of-order, duplicate and concurrent batches", async () => {
    const runId = await createRun(t.db);
    const rand = () => Math.round(Math.random() * 1e6) / 1e3;
    await ingestMetricPoints(t.db, runId, [...batch("loss", range(0, 600), rand), ...batch("acc", range(0, 300), rand)]);
    // Out of order, overlapping the first batch, with a step repeated inside the batch (the later one wins).
    await ingestMetricPoints(t.db, runId, [...batch("loss", range(400, 1100).reverse(), rand), { key: "loss", step: 700, value: -5, timestamp: 1 }]);
    expect((await storedPoints(t.db, runId, "loss")).find((p) => p.step === 700)?.value).toBe(-5);
    expect(await storedRollups(t.db, runId, "loss")).toEqual(expectedRollups(await storedPoints(t.db, runId, "loss")));
    // Overwrite the minimum of a bucket with a larger value: the bucket's minimum must move elsewhere.
    const before = await storedRollups(t.db, runId, "loss");
    const { minStep } = before[1]!;
    await ingestMetricPoints(t.db, runId, [{ key: "loss", step: minStep, value: 10_000 }]);
    // Concurrent batches of the same series touching the same buckets but not the same steps, so nothing but the
    // series lock orders their rollup recomputations. Without it a round loses points from a bucket about half the time.
    for (let round = 0; round < 3; round++) {
      await Promise.all(
        Array.from({ length: 6 }, (_, w) => ingestMetricPoints(t.db, runId, batch("loss", range(0, 3000).filter((s) => s % 6 === w), rand))),
      );
    }
    await ingestMetricPoints(t.db, runId, batch("loss", [2_147_483_647, 2_147_483_000], rand));

    for (const key of ["loss", "acc"]) {
      const points = await storedPoints(t.db, runId, key);
      expect(await storedRollups(t.db, runId, key)).toEqual(expectedRollups(points));
    }
    const loss = await storedPoints(t.db, runId, "loss");
    expect(loss.find((p) => p.step === minStep)?.value).not.toBe(before[1]!.minValue);
    expect(loss.length).toBe(3002);

    // Concurrent first batches of a series nobody has logged yet: one creates it, the others wait on its key.
    await Promise.all(Array.from({ length: 6 }, (_, w) => ingestMetricPoints(t.db, runId, batch("fresh", range(0, 1200).filter((s) => s % 6 === w), rand))));
    const fresh = await storedPoints(t.db, runId, "fresh");
    expect(fresh.length).toBe(1200);
    expect(await storedRollups(t.db, runId, "fresh")).toEqual(expectedRollups(fresh));
  });

  it("refuses points for a run that does not exist and writes nothing", async () => {
    await expect(ingestMetricPoints(t.db, "no-such-run", batch("loss", range(0, 10), () => 1))).rejects.toThrow(NotFoundError);
    expect(await t.db.metricSeries.count({ where: { runId: "no-such-run" } })).toBe(0);
  });
});

describe("queryMetricSeries", () => {
  it("returns a series of at most maxPoints points whole", async () => {
    const runId = await createRun(t.db);
    await ingestMetricPoints(t.db, runId, batch("lr", range(0, 50), (s) => s / 10));
    const [series] = await queryMetricSeries(t.db, { runId, keys: ["lr"], maxPoints: 50 });
    expect(series).toMatchObject({ key: "lr", total: 50, downsampled: false });
    expect(series!.points).toEqual(range(0, 50).map((s) => ({ step: s, value: s / 10, wallTime: new Date(1_700_000_000_000 + s) })));
  });

  it("downsamples a long series with M4, from the rollups or from the points, keeping extremes and ends", async () => {
    const runId = await createRun(t.db);
    const steps = range(0, 40_000).filter((s) => s % 2 === 0 || s > 30_000);
    const value = (s: number) => (s === 12_345 ? 50 : s === 23_457 ? -50 : Math.sin(s / 500) + ((s * 7919) % 101) / 1000);
    for (let i = 0; i < steps.length; i += 1000) await ingestMetricPoints(t.db, runId, batch("loss", steps.slice(i, i + 1000), value));
    const stored = await storedPoints(t.db, runId, "loss");
    const rollups = (await storedRollups(t.db, runId, "loss")).length;
    const globalMin = stored.reduce(byMin);
    const globalMax = stored.reduce(byMax);

    // maxPoints 200 → 50 buckets < 157 rollups: read from the rollups. 1000 → 250 buckets ≥ rollups: from the points.
    for (const [maxPoints, unitOf] of [
      [200, (s: number) => Math.floor(s / METRIC_ROLLUP_STEPS)],
      [1000, (s: number) => s],
    ] as const) {
      expect(rollups > Math.floor(maxPoints / 4)).toBe(maxPoints === 200);
      const [series] = await queryMetricSeries(t.db, { runId, keys: ["loss"], maxPoints });
      expect(series).toMatchObject({ key: "loss", total: stored.length, downsampled: true });
      const points = series!.points;
      expect(points.length).toBeLessThanOrEqual(maxPoints);
      expect(points.map((p) => p.step)).toEqual(expectedM4(stored, Math.floor(maxPoints / 4), unitOf));
      expect(points[0]!.step).toBe(stored[0]!.step);
      expect(points.at(-1)!.step).toBe(stored.at(-1)!.step);
      expect(points).toContainEqual(globalMin);
      expect(points).toContainEqual(globalMax);
      const byStep = new Map(stored.map((p) => [p.step, p]));
      for (const p of points) expect(p).toEqual(byStep.get(p.step));
    }
  });

  it("rejects maxPoints below 4 naming the field, and omits keys the run never logged", async () => {
    const runId = await createRun(t.db);
    await expect(queryMetricSeries(t.db, { runId, keys: ["loss"], maxPoints: 3 })).rejects.toThrow(ValidationError);
    await expect(queryMetricSeries(t.db, { runId, keys: ["loss"], maxPoints: 3 })).rejects.toThrow(/maxPoints/);
    expect(await queryMetricSeries(t.db, { runId, keys: ["nothing"] })).toEqual([]);
  });
});
