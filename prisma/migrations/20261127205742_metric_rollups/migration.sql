-- CreateTable
CREATE TABLE "MetricRollup" (
    "seriesId" INTEGER NOT NULL,
    "bucket" INTEGER NOT NULL,
    "count" INTEGER NOT NULL,
    "firstStep" INTEGER NOT NULL,
    "firstValue" DOUBLE PRECISION NOT NULL,
    "lastStep" INTEGER NOT NULL,
    "lastValue" DOUBLE PRECISION NOT NULL,
    "minStep" INTEGER NOT NULL,
    "minValue" DOUBLE PRECISION NOT NULL,
    "maxStep" INTEGER NOT NULL,
    "maxValue" DOUBLE PRECISION NOT NULL,

    CONSTRAINT "MetricRollup_pkey" PRIMARY KEY ("seriesId","bucket")
);

-- AddForeignKey
ALTER TABLE "MetricRollup" ADD CONSTRAINT "MetricRollup_seriesId_fkey" FOREIGN KEY ("seriesId") REFERENCES "MetricSeries"("id") ON DELETE CASCADE ON UPDATE CASCADE;


-- Backfill the rollups of points stored before this migration (METRIC_ROLLUP_STEPS = 256), the same aggregates
-- that ingest keeps up to date.
INSERT INTO "MetricRollup" ("seriesId", "bucket", "count", "firstStep", "firstValue", "lastStep", "lastValue", "minStep", "minValue", "maxStep", "maxValue")
SELECT "seriesId", b, n, f[1]::int, f[2], l[1]::int, l[2], mn[2]::int, mn[1], mx[2]::int, mx[1]
FROM (
    SELECT "seriesId", step / 256 AS b, count(*)::int AS n, min(ARRAY[step, value]) AS f, max(ARRAY[step, value]) AS l,
           min(ARRAY[value, step]) AS mn, max(ARRAY[value, step]) AS mx
    FROM "MetricPoint" GROUP BY "seriesId", step / 256
) AS agg;
