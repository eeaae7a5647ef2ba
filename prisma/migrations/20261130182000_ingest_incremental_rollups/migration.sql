-- Metric ingest: roll-ups of buckets that a batch only appends to are merged from the batch's own points instead of
-- rebuilt from every stored point of the bucket. A bucket's count/first/last/min/max over (stored ∪ new points) is
-- exact from the stored roll-up and the new points when no new point replaced a stored one (INSERT … RETURNING
-- xmax = 0 says which rows were inserted). A bucket where any point overwrote a stored step is rebuilt from the table
-- as before (its old value may have been the minimum, say). The series row lock still orders batches of one series.
CREATE OR REPLACE FUNCTION "loraplane_ingest_metric_batch"(
  p_run_id text, p_keys text[], p_steps integer[], p_values double precision[], p_times timestamptz[], p_rollup_steps integer
) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  v_ids integer[];
  v_written integer;
  v_rebuild_sids integer[];
  v_rebuild_buckets integer[];
BEGIN
  IF NOT EXISTS (SELECT 1 FROM "PipelineRun" WHERE id = p_run_id) THEN
    RETURN -1;
  END IF;
  INSERT INTO "MetricSeries" ("runId", "key")
    SELECT p_run_id, k FROM (SELECT DISTINCT unnest(p_keys) AS k) d
    ON CONFLICT ("runId", "key") DO NOTHING;
  -- Two batches of one series must not update its rollups concurrently: the row lock, taken in id order so
  -- overlapping batches cannot deadlock, makes the second wait. NO KEY UPDATE leaves the MetricPoint foreign-key
  -- checks (KEY SHARE) unblocked.
  PERFORM 1 FROM "MetricSeries" WHERE "runId" = p_run_id AND "key" = ANY(p_keys) ORDER BY id FOR NO KEY UPDATE;
  SELECT array_agg(s.id ORDER BY u.ord) INTO v_ids
    FROM unnest(p_keys) WITH ORDINALITY AS u(k, ord) JOIN "MetricSeries" s ON s."runId" = p_run_id AND s."key" = u.k;

  -- Points (last write wins), then per touched bucket: merged when every point of the batch in it was new, listed for
  -- a rebuild otherwise. min/max over [step, value] arrays give first/last, over [value, step] the point holding the
  -- minimum (earliest on ties) / maximum (latest on ties) — the same rule as the rebuild below.
  WITH written AS (
    INSERT INTO "MetricPoint" ("seriesId", "step", "value", "wallTime")
      SELECT * FROM unnest(v_ids, p_steps, p_values, p_times)
      ON CONFLICT ("seriesId", "step") DO UPDATE SET "value" = EXCLUDED."value", "wallTime" = EXCLUDED."wallTime"
      RETURNING "seriesId" AS sid, "step" AS st, "value" AS v, (xmax = 0) AS fresh
  ), agg AS (
    SELECT sid, st / p_rollup_steps AS b, bool_and(fresh) AS all_fresh, count(*)::int AS n,
           min(ARRAY[st, v]) AS f, max(ARRAY[st, v]) AS l, min(ARRAY[v, st]) AS mn, max(ARRAY[v, st]) AS mx
    FROM written GROUP BY 1, 2
  ), merged AS (
    INSERT INTO "MetricRollup" AS r ("seriesId", "bucket", "count", "firstStep", "firstValue", "lastStep", "lastValue", "minStep", "minValue", "maxStep", "maxValue")
      SELECT sid, b, n, f[1]::int, f[2], l[1]::int, l[2], mn[2]::int, mn[1], mx[2]::int, mx[1] FROM agg WHERE all_fresh
      ON CONFLICT ("seriesId", "bucket") DO UPDATE SET
        "count" = r."count" + EXCLUDED."count",
        "firstStep" = LEAST(r."firstStep", EXCLUDED."firstStep"),
        "firstValue" = CASE WHEN EXCLUDED."firstStep" < r."firstStep" THEN EXCLUDED."firstValue" ELSE r."firstValue" END,
        "lastStep" = GREATEST(r."lastStep", EXCLUDED."lastStep"),
        "lastValue" = CASE WHEN EXCLUDED."lastStep" > r."lastStep" THEN EXCLUDED."lastValue" ELSE r."lastValue" END,
        "minStep" = CASE WHEN (EXCLUDED."minValue", EXCLUDED."minStep") < (r."minValue", r."minStep") THEN EXCLUDED."minStep" ELSE r."minStep" END,
        "minValue" = CASE WHEN (EXCLUDED."minValue", EXCLUDED."minStep") < (r."minValue", r."minStep") THEN EXCLUDED."minValue" ELSE r."minValue" END,
        "maxStep" = CASE WHEN (EXCLUDED."maxValue", EXCLUDED."maxStep") > (r."maxValue", r."maxStep") THEN EXCLUDED."maxStep" ELSE r."maxStep" END,
        "maxValue" = CASE WHEN (EXCLUDED."maxValue", EXCLUDED."maxStep") > (r."maxValue", r."maxStep") THEN EXCLUDED."maxValue" ELSE r."maxValue" END
      RETURNING 1
  )
  SELECT (SELECT count(*)::int FROM written),
         (SELECT array_agg(sid) FROM agg WHERE NOT all_fresh),
         (SELECT array_agg(b) FROM agg WHERE NOT all_fresh)
    INTO v_written, v_rebuild_sids, v_rebuild_buckets;

  -- Buckets where the batch overwrote stored points: rebuilt from the stored points (this statement sees the above).
  IF v_rebuild_sids IS NOT NULL THEN
    WITH touched AS (SELECT DISTINCT sid, b FROM unnest(v_rebuild_sids, v_rebuild_buckets) AS u(sid, b)),
    agg AS (
      SELECT t.sid, t.b, count(*)::int AS n, min(ARRAY[p.step, p.value]) AS f, max(ARRAY[p.step, p.value]) AS l,
             min(ARRAY[p.value, p.step]) AS mn, max(ARRAY[p.value, p.step]) AS mx
      FROM touched t JOIN "MetricPoint" p
        ON p."seriesId" = t.sid AND p.step BETWEEN t.b * p_rollup_steps AND t.b * p_rollup_steps + (p_rollup_steps - 1)
      GROUP BY t.sid, t.b)
    INSERT INTO "MetricRollup" ("seriesId", "bucket", "count", "firstStep", "firstValue", "lastStep", "lastValue", "minStep", "minValue", "maxStep", "maxValue")
      SELECT sid, b, n, f[1]::int, f[2], l[1]::int, l[2], mn[2]::int, mn[1], mx[2]::int, mx[1] FROM agg
      ON CONFLICT ("seriesId", "bucket") DO UPDATE SET
        "count" = EXCLUDED."count", "firstStep" = EXCLUDED."firstStep", "firstValue" = EXCLUDED."firstValue",
        "lastStep" = EXCLUDED."lastStep", "lastValue" = EXCLUDED."lastValue", "minStep" = EXCLUDED."minStep",
        "minValue" = EXCLUDED."minValue", "maxStep" = EXCLUDED."maxStep", "maxValue" = EXCLUDED."maxValue";
  END IF;
  RETURN v_written;
END
$$;
