// The migration that added MetricRollup backfills it for points stored before; that SQL must produce exactly what
// upsertMetricPoints maintains for the same points.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { MIGRATIONS_DIR } from "../src/migrate/index.ts";
import { upsertMetricPoints } from "../src/repositories/metrics.ts";
import { useTestDb } from "../src/testing/index.ts";

const t = useTestDb("metric_rollups");

function backfillSql(): string {
  const dir = readdirSync(MIGRATIONS_DIR).find((d) => d.endsWith("_metric_rollups"))!;
  const sql = readFileSync(path.join(MIGRATIONS_DIR, dir, "migration.sql"), "utf8");
  const start = sql.indexOf('INSERT INTO "MetricRollup"');
  expect(start).toBeGreaterThan(0);
  return sql.slice(start);
}

describe("MetricRollup backfill migration", () => {
  it("rebuilds the rollups that ingest keeps, from the points alone", async () => {
    const project = await t.db.project.create({ data: { slug: "p", name: "p" }, select: { id: true } });
    const pipeline = await t.db.pipeline.create({ data: { projectId: project.id, name: "p", spec: {} }, select: { id: true } });
    const run = await t.db.pipelineRun.create({ data: { projectId: project.id, pipelineId: pipeline.id, number: 1, trigger: "api", specVersion: 1, resolvedSpec: {} }, select: { id: true } });
    const wallTime = new Date();
    for (let b = 0; b < 3; b++) {
      const points = Array.from({ length: 1000 }, (_, i) => ({ key: i % 2 ? "loss" : "acc", step: Math.floor(Math.random() * 5000), value: Math.random() - 0.5, wallTime }));
      await upsertMetricPoints(t.db, run.id, points);
    }
    const select = { seriesId: true, bucket: true, count: true, firstStep: true, firstValue: true, lastStep: true, lastValue: true, minStep: true, minValue: true, maxStep: true, maxValue: true } as const;
    const orderBy = [{ seriesId: "asc" as const }, { bucket: "asc" as const }];
    const maintained = await t.db.metricRollup.findMany({ select, orderBy });
    expect(maintained.length).toBeGreaterThan(30);

    await t.db.metricRollup.deleteMany({});
    await t.db.$executeRawUnsafe(backfillSql());
    expect(await t.db.metricRollup.findMany({ select, orderBy })).toEqual(maintained);
  });
});
