/**
 * Steps per MetricRollup row: bucket = floor(step / METRIC_ROLLUP_STEPS). 256 keeps a 1M-step series at ~4k rollup
 * rows (cheap to downsample on every chart load) while a 1000-point ingest batch rewrites only a handful of them.
 */
export const METRIC_ROLLUP_STEPS = 256;
