-- One round trip per metric batch. The statements are the ones the ingest service used to send one by one inside an
-- interactive transaction; in a plpgsql function each still runs with its own snapshot (READ COMMITTED), so a batch
-- waiting on another's series lock reads that batch's points once it commits, exactly as before.
-- Returns the number of points written, or -1 when the run does not exist (nothing is written then).
CREATE OR REPLACE FUNCTION "loraplane_ingest_metric_batch"(
  p_run_id text, p_keys text[], p_steps integer[], p_values double precision[], p_times timestamptz[], p_rollup_steps integer
) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  v_ids integer[];
  v_written integer;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM "PipelineRun" WHERE id = p_run_id) THEN
    RETURN -1;
  END IF;
  INSERT INTO "MetricSeries" ("runId", "key")
    SELECT p_run_id, k FROM (SELECT DISTINCT unnest(p_keys) AS k) d
    ON CONFLICT ("runId", "key") DO NOTHING;
  -- Two batches of one series must not rebuild its rollups concurrently (each would aggregate without the other's
  -- uncommitted points): the row lock, taken in id order so overlapping batches cannot deadlock, makes the second
  -- wait. NO KEY UPDATE leaves the MetricPoint foreign-key checks (KEY SHARE) unblocked.
  PERFORM 1 FROM "MetricSeries" WHERE "runId" = p_run_id AND "key" = ANY(p_keys) ORDER BY id FOR NO KEY UPDATE;
  SELECT array_agg(s.id ORDER BY u.ord) INTO v_ids
    FROM unnest(p_keys) WITH ORDINALITY AS u(k, ord) JOIN "MetricSeries" s ON s."runId" = p_run_id AND s."key" = u.k;

  INSERT INTO "MetricPoint" ("seriesId", "step", "value", "wallTime")
    SELECT * FROM unnest(v_ids, p_steps, p_values, p_times)
    ON CONFLICT ("seriesId", "step") DO UPDATE SET "value" = EXCLUDED."value", "wallTime" = EXCLUDED."wallTime";
  GET DIAGNOSTICS v_written = ROW_COUNT;

  -- The rollups of every bucket the batch touched, rebuilt from the stored points (so overwrites keep them exact).
  -- min/max over [step, value] arrays give a bucket's first/last point, over [value, step] the point holding its
  -- minimum/maximum (the earliest on ties), in one pass; BETWEEN keeps the top bucket within int4.
  WITH touched AS (SELECT DISTINCT sid, st / p_rollup_steps AS b FROM unnest(v_ids, p_steps) AS u(sid, st)),
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
  RETURN v_written;
END
$$;
