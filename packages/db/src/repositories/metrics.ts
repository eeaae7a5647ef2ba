// Metric points are written with two statements per batch whatever its size: series upsert, then one multi-row
// insert from unnest() arrays. A repeated (run, key, step) overwrites the stored value: last write wins.
import type { DbOrTx } from "../client.ts";

export interface TMetricPointInput {
  key: string;
  step: number;
  value: number;
  wallTime: Date;
}

/** Returns the number of distinct (key, step) points written. */
export async function upsertMetricPoints(db: DbOrTx, runId: string, points: readonly TMetricPointInput[]): Promise<number> {
  if (points.length === 0) return 0;
  // Postgres refuses to update the same row twice in one INSERT … ON CONFLICT, so collapse duplicates inside the
  // batch first, keeping the later one — the same rule as across batches.
  const latest = new Map<string, TMetricPointInput>();
  for (const p of points) latest.set(`${p.step}\u0000${p.key}`, p);
  const unique = [...latest.values()];
  const keys = [...new Set(unique.map((p) => p.key))];
  await db.$executeRawUnsafe(
    `INSERT INTO "MetricSeries" ("runId", "key") SELECT $1, k FROM unnest($2::text[]) AS k ON CONFLICT ("runId", "key") DO NOTHING`,
    runId,
    keys,
  );
  const series = await db.$queryRawUnsafe<{ id: number; key: string }[]>(
    `SELECT id, key FROM "MetricSeries" WHERE "runId" = $1 AND key = ANY($2::text[])`,
    runId,
    keys,
  );
  const idByKey = new Map(series.map((s) => [s.key, s.id]));
  const ids: number[] = [];
  const steps: number[] = [];
  const values: number[] = [];
  const times: string[] = [];
  for (const p of unique) {
    ids.push(idByKey.get(p.key)!);
    steps.push(p.step);
    values.push(p.value);
    times.push(p.wallTime.toISOString());
  }
  return db.$executeRawUnsafe(
    `INSERT INTO "MetricPoint" ("seriesId", "step", "value", "wallTime")
     SELECT * FROM unnest($1::int[], $2::int[], $3::float8[], $4::timestamptz[])
     ON CONFLICT ("seriesId", "step") DO UPDATE SET "value" = EXCLUDED."value", "wallTime" = EXCLUDED."wallTime"`,
    ids,
    steps,
    values,
    times,
  );
}

export function listMetricSeries(db: DbOrTx, runId: string) {
  return db.metricSeries.findMany({ where: { runId }, select: { id: true, key: true }, orderBy: { key: "asc" } });
}

export interface TSeriesStats {
  id: number;
  key: string;
  count: number;
}

export async function findSeriesStats(db: DbOrTx, runId: string, keys: readonly string[]): Promise<TSeriesStats[]> {
  const rows = await db.$queryRawUnsafe<{ id: number; key: string; count: bigint }[]>(
    `SELECT s.id, s.key, (SELECT count(*) FROM "MetricPoint" p WHERE p."seriesId" = s.id) AS count
     FROM "MetricSeries" s WHERE s."runId" = $1 AND s.key = ANY($2::text[]) ORDER BY s.key`,
    runId,
    keys,
  );
  return rows.map((r) => ({ id: r.id, key: r.key, count: Number(r.count) }));
}

export function listSeriesPoints(db: DbOrTx, seriesId: number) {
  return db.metricPoint.findMany({
    where: { seriesId },
    select: { step: true, value: true, wallTime: true },
    orderBy: { step: "asc" },
  });
}

/** The latest point of every series of a run: used to show final eval metrics and for sweeps. */
export async function findLatestMetricValues(db: DbOrTx, runId: string): Promise<Record<string, number>> {
  const rows = await db.$queryRawUnsafe<{ key: string; value: number }[]>(
    `SELECT DISTINCT ON (s.id) s.key, p.value FROM "MetricSeries" s JOIN "MetricPoint" p ON p."seriesId" = s.id
     WHERE s."runId" = $1 ORDER BY s.id, p.step DESC`,
    runId,
  );
  return Object.fromEntries(rows.map((r) => [r.key, r.value]));
}
