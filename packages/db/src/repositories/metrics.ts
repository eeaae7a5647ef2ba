// A metric batch is written by one call of the SQL function "loraplane_ingest_metric_batch" (migration
// 20261127234500_ingest_metric_batch): series upsert, series row locks, one multi-row insert from unnest() arrays, then
// the MetricRollup rows of the buckets the batch touched are recomputed from MetricPoint — one round trip, one
// transaction. A repeated (run, key, step) overwrites the stored value: last write wins, and because rollups are
// rebuilt from the stored points rather than adjusted by the incoming ones, overwrites leave them exact too.
import { METRIC_ROLLUP_STEPS } from "@loraplane/core";
import type { Db, DbOrTx } from "../client.ts";

export interface TMetricPointInput {
  key: string;
  step: number;
  value: number;
  wallTime: Date;
}

const INGEST_BATCH = `SELECT "loraplane_ingest_metric_batch"($1, $2::text[], $3::int[], $4::float8[], $5::timestamptz[], $6::int) AS written`;

/**
 * Returns the number of distinct (key, step) points written, or null when the run does not exist (nothing written).
 * Points and their rollups commit together.
 */
export async function upsertMetricPoints(db: Db, runId: string, points: readonly TMetricPointInput[]): Promise<number | null> {
  if (points.length === 0) return 0;
  // Postgres refuses to update the same row twice in one INSERT … ON CONFLICT, so collapse duplicates inside the
  // batch first, keeping the later one — the same rule as across batches.
  const latest = new Map<string, TMetricPointInput>();
  for (const p of points) latest.set(`${p.step}\u0000${p.key}`, p);
  const keys: string[] = [];
  const steps: number[] = [];
  const values: number[] = [];
  const times: string[] = [];
  for (const p of latest.values()) {
    keys.push(p.key);
    steps.push(p.step);
    values.push(p.value);
    times.push(p.wallTime.toISOString());
  }
  const [row] = await db.$queryRawUnsafe<{ written: number }[]>(INGEST_BATCH, runId, keys, steps, values, times, METRIC_ROLLUP_STEPS);
  return row!.written < 0 ? null : row!.written;
}

export function listMetricSeries(db: DbOrTx, runId: string) {
  return db.metricSeries.findMany({ where: { runId }, select: { id: true, key: true }, orderBy: { key: "asc" } });
}

export interface TSeriesStats {
  id: number;
  key: string;
  count: number;
  /** Number of MetricRollup rows, and the first/last of them and of the steps; null for a series with no points. */
  rollups: number;
  firstBucket: number | null;
  lastBucket: number | null;
  firstStep: number | null;
  lastStep: number | null;
}

/** Counts from the rollups (≈ 1/256 of the rows), which commit with the points and so always add up to them. */
export async function findSeriesStats(db: DbOrTx, runId: string, keys: readonly string[]): Promise<TSeriesStats[]> {
  const rows = await db.$queryRawUnsafe<
    { id: number; key: string; count: bigint; rollups: bigint; firstBucket: number | null; lastBucket: number | null; firstStep: number | null; lastStep: number | null }[]
  >(
    `SELECT s.id, s.key, coalesce(sum(r.count), 0)::bigint AS count, count(r.bucket) AS rollups,
            min(r.bucket) AS "firstBucket", max(r.bucket) AS "lastBucket", min(r."firstStep") AS "firstStep", max(r."lastStep") AS "lastStep"
     FROM "MetricSeries" s LEFT JOIN "MetricRollup" r ON r."seriesId" = s.id
     WHERE s."runId" = $1 AND s.key = ANY($2::text[]) GROUP BY s.id, s.key ORDER BY s.key`,
    runId,
    keys,
  );
  return rows.map((r) => ({ ...r, count: Number(r.count), rollups: Number(r.rollups) }));
}

export interface TSeriesPoint {
  step: number;
  value: number;
  wallTime: Date;
}

/** Every point of a series in step order: one range read of the primary key. */
export function listSeriesPoints(db: DbOrTx, seriesId: number): Promise<TSeriesPoint[]> {
  return db.$queryRawUnsafe<TSeriesPoint[]>(`SELECT step, value, "wallTime" FROM "MetricPoint" WHERE "seriesId" = $1 ORDER BY step`, seriesId);
}

// M4 (Jugel et al., VLDB 2014): per bucket keep the first, last, minimum and maximum point, so a line chart drawn
// from the result has the same extremes as one drawn from every point. The chosen steps are joined back to
// MetricPoint, so every returned point is a stored one with its own value and wallTime.
const m4Query = (aggregates: string) => `
  WITH b AS (${aggregates}),
  chosen AS (SELECT DISTINCT unnest(ARRAY[f[1], l[1], mn[2], mx[2]])::int AS step FROM b)
  SELECT p.step, p.value, p."wallTime" FROM chosen c JOIN "MetricPoint" p ON p."seriesId" = $1 AND p.step = c.step
  ORDER BY p.step`;

// $2 buckets of equal step ranges over [$3, $4]; (x - lo) / (hi - lo + 1) < 1 keeps the index below $2.
const M4_FROM_POINTS = m4Query(`
  SELECT min(ARRAY[step, value]) AS f, max(ARRAY[step, value]) AS l, min(ARRAY[value, step]) AS mn, max(ARRAY[value, step]) AS mx
  FROM "MetricPoint" WHERE "seriesId" = $1
  GROUP BY floor((step - $3::int)::float8 * $2::int / ($4::int - $3::int + 1))`);

// The same over rollup rows: $2 buckets of equal ranges of rollup buckets [$3, $4], i.e. step ranges aligned to
// METRIC_ROLLUP_STEPS. A target bucket is a union of whole rollup buckets, so its first/last/min/max are exact.
const M4_FROM_ROLLUPS = m4Query(`
  SELECT min(ARRAY["firstStep", "firstValue"]) AS f, max(ARRAY["lastStep", "lastValue"]) AS l,
         min(ARRAY["minValue", "minStep"]) AS mn, max(ARRAY["maxValue", "maxStep"]) AS mx
  FROM "MetricRollup" WHERE "seriesId" = $1
  GROUP BY floor((bucket - $3::int)::float8 * $2::int / ($4::int - $3::int + 1))`);

/**
 * At most 4 × buckets points of a series with M4 over equal step ranges, sorted by step. Reads the rollups when
 * there are more of them than buckets (each output bucket then spans at least one whole rollup), else the points.
 */
export function downsampleSeriesM4(db: DbOrTx, stats: TSeriesStats, buckets: number): Promise<TSeriesPoint[]> {
  if (stats.count === 0) return Promise.resolve([]);
  return stats.rollups > buckets
    ? db.$queryRawUnsafe<TSeriesPoint[]>(M4_FROM_ROLLUPS, stats.id, buckets, stats.firstBucket, stats.lastBucket)
    : db.$queryRawUnsafe<TSeriesPoint[]>(M4_FROM_POINTS, stats.id, buckets, stats.firstStep, stats.lastStep);
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
