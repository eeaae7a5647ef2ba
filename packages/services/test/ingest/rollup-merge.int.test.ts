// Incremental roll-ups: a batch that only appends to a bucket merges its points into the stored roll-up; a batch
// that overwrites any stored step of a bucket rebuilds it. Either way the roll-up must equal the definition — the
// same aggregate over the bucket's stored points — including ties (integer values, so equal minima and maxima at
// several steps are common), duplicates inside a batch and across batches (last write wins).
import { METRIC_ROLLUP_STEPS } from "@loraplane/core";
import type { Db } from "@loraplane/db";
import { useTestDb } from "@loraplane/db/testing";
import { describe, expect, it } from "vitest";
import { ingestMetricPoints } from "../../src/ingest/index.ts";

const t = useTestDb("rollup_merge");

async function createRun(db: Db): Promise<string> {
  const label = Math.random().toString(36).slice(2, 8);
  const project = await db.project.create({ data: { slug: `r-${label}`, name: label }, select: { id: true } });
  const pipeline = await db.pipeline.create({ data: { projectId: project.id, name: label, spec: {} }, select: { id: true } });
  const run = await db.pipelineRun.create({ data: { projectId: project.id, pipelineId: pipeline.id, number: 1, trigger: "api", specVersion: 1, resolvedSpec: {} }, select: { id: true } });
  return run.id;
}

/** Stored roll-ups next to the definition computed from the stored points, per bucket of every series of the run. */
async function rollupsAndDefinition(db: Db, runId: string) {
  const stored = await db.$queryRawUnsafe<unknown[]>(
    `SELECT s.key, r.bucket, r.count, r."firstStep", r."firstValue", r."lastStep", r."lastValue", r."minStep", r."minValue", r."maxStep", r."maxValue"
     FROM "MetricRollup" r JOIN "MetricSeries" s ON s.id = r."seriesId" WHERE s."runId" = $1 ORDER BY 1, 2`,
    runId,
  );
  const definition = await db.$queryRawUnsafe<unknown[]>(
    `SELECT key, b AS bucket, n AS count, f[1]::int AS "firstStep", f[2] AS "firstValue", l[1]::int AS "lastStep", l[2] AS "lastValue",
            mn[2]::int AS "minStep", mn[1] AS "minValue", mx[2]::int AS "maxStep", mx[1] AS "maxValue"
     FROM (SELECT s.key, p.step / $2 AS b, count(*)::int AS n, min(ARRAY[p.step, p.value]) AS f, max(ARRAY[p.step, p.value]) AS l,
                  min(ARRAY[p.value, p.step]) AS mn, max(ARRAY[p.value, p.step]) AS mx
           FROM "MetricPoint" p JOIN "MetricSeries" s ON s.id = p."seriesId" WHERE s."runId" = $1 GROUP BY 1, 2) a ORDER BY 1, 2`,
    runId,
    METRIC_ROLLUP_STEPS,
  );
  return { stored, definition };
}

const points = (key: string, steps: readonly number[], value: (step: number) => number) => steps.map((step) => ({ key, step, value: value(step) }));
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
const small = () => Math.floor(Math.random() * 4); // ties everywhere

describe("incremental metric roll-ups", () => {
  it("appending batches, overwriting batches and mixed batches all leave every roll-up equal to its definition", async () => {
    const runId = await createRun(t.db);
    const B = METRIC_ROLLUP_STEPS;
    // Appends into the same buckets over several batches (merge path), values with many ties.
    for (let i = 0; i < 6; i++) await ingestMetricPoints(t.db, runId, points("loss", range(i * 50, i * 50 + 50), small));
    let r = await rollupsAndDefinition(t.db, runId);
    expect(r.stored).toEqual(r.definition);
    // Out-of-order appends that extend a bucket at both ends (new first and new last step of a bucket).
    await ingestMetricPoints(t.db, runId, points("loss", [B * 3 - 1, B * 2 + 5, ...range(B * 4, B * 4 + 10).reverse()], small));
    await ingestMetricPoints(t.db, runId, points("loss", [B * 2, B * 3 - 2], () => -1));
    r = await rollupsAndDefinition(t.db, runId);
    expect(r.stored).toEqual(r.definition);
    // A mixed batch: one bucket overwritten (its minimum raised, so a merge would keep a minimum that no longer
    // exists), another bucket only appended to, a third new.
    const [bucket0] = await t.db.$queryRawUnsafe<{ minStep: number }[]>(
      `SELECT r."minStep" FROM "MetricRollup" r JOIN "MetricSeries" s ON s.id = r."seriesId" WHERE s."runId" = $1 AND s.key = 'loss' AND r.bucket = 0`,
      runId,
    );
    await ingestMetricPoints(t.db, runId, [{ key: "loss", step: bucket0!.minStep, value: 100 }, ...points("loss", [B + 200, B * 7], small), ...points("acc", range(0, 20), small)]);
    r = await rollupsAndDefinition(t.db, runId);
    expect(r.stored).toEqual(r.definition);
    // Duplicates inside one batch (the later one wins) on a new step and on a stored step, and across batches.
    await ingestMetricPoints(t.db, runId, [{ key: "loss", step: B * 9, value: 5 }, { key: "loss", step: B * 9, value: -7 }, { key: "loss", step: 3, value: 9 }, { key: "loss", step: 3, value: -9 }]);
    await ingestMetricPoints(t.db, runId, [{ key: "loss", step: B * 9, value: 8 }]);
    const stored = await t.db.metricPoint.findMany({ where: { series: { runId, key: "loss" }, step: { in: [3, B * 9] } }, select: { step: true, value: true }, orderBy: { step: "asc" } });
    expect(stored).toEqual([{ step: 3, value: -9 }, { step: B * 9, value: 8 }]);
    r = await rollupsAndDefinition(t.db, runId);
    expect(r.stored).toEqual(r.definition);
  });

  it("concurrent appending batches of one series (merges serialised by the series lock) stay exact", async () => {
    const runId = await createRun(t.db);
    for (let round = 0; round < 3; round++) {
      await Promise.all(Array.from({ length: 6 }, (_, w) => ingestMetricPoints(t.db, runId, points("loss", range(round * 600, round * 600 + 600).filter((s) => s % 6 === w), small))));
    }
    const r = await rollupsAndDefinition(t.db, runId);
    expect(r.stored).toEqual(r.definition);
    expect(await t.db.metricPoint.count({ where: { series: { runId } } })).toBe(1800);
  });
});
