// Metric query benchmark (issue 5): one key of one run with 1,000,000 points, ingested through ingestMetricPoints in
// 1000-point batches (so the rollups are built exactly as in production), then in the same run p50/p99 of
//   (a) queryMetricSeries(maxPoints = 1000): M4 in Postgres over the rollups, and
//   (b) the previous path: every row of the series through Prisma, downsampled with LTTB in JS.
//   npx tsx bench/metric-query.ts [iterations=50] [points=1000000]
import { loadavg } from "node:os";
import { lttb } from "@loraplane/core";
import { createPrismaClient } from "@loraplane/db";
import { ingestMetricPoints, queryMetricSeries } from "@loraplane/services";
import { createBenchDatabase, createBenchRuns } from "./bench-db.ts";
import { percentile, runBenchmark } from "./stats.ts";

const ITERATIONS = Number(process.argv[2] ?? 50);
const POINTS = Number(process.argv[3] ?? 1_000_000);
const BATCH = 1000;
const MAX_POINTS = 1000;

async function timeIt(iterations: number, fn: () => Promise<unknown>) {
  await fn(); // warm-up: plans cached, pages in shared buffers
  const ms: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const s = performance.now();
    await fn();
    ms.push(performance.now() - s);
  }
  return { p50: percentile(ms, 0.5), p99: percentile(ms, 0.99) };
}

async function main(): Promise<void> {
  const database = await createBenchDatabase("metric_query");
  const db = createPrismaClient({ url: database.url, poolSize: 4 });
  try {
    const [runId] = (await createBenchRuns(db, 1)).runIds as [string];

    // A noisy decaying loss curve with two spikes, so the extremes are somewhere in the middle.
    const value = (s: number) => (s === 123_457 ? 25 : s === 876_543 ? -1 : 2 * Math.exp(-s / 200_000) + 0.1 * Math.sin(s / 997) + ((s * 7919) % 1009) / 5000);
    const t0 = performance.now();
    for (let from = 0; from < POINTS; from += BATCH) {
      const points = Array.from({ length: Math.min(BATCH, POINTS - from) }, (_, i) => ({ key: "train/loss", step: from + i, value: value(from + i), timestamp: 1_700_000_000_000 + from + i }));
      await ingestMetricPoints(db, runId, points);
    }
    const ingestSeconds = (performance.now() - t0) / 1000;
    await db.$executeRawUnsafe(`VACUUM ANALYZE "MetricPoint"`);
    await db.$executeRawUnsafe(`VACUUM ANALYZE "MetricRollup"`);
    const [{ id: seriesId }] = await db.metricSeries.findMany({ where: { runId: runId }, select: { id: true } }) as [{ id: number }];

    let downsampled = 0;
    const m4 = await timeIt(ITERATIONS, async () => {
      const [s] = await queryMetricSeries(db, { runId: runId, keys: ["train/loss"], maxPoints: MAX_POINTS });
      if (s?.total !== POINTS || s.points.length > MAX_POINTS) throw new Error(`unexpected result: total ${s?.total}, ${s?.points.length} points`);
      downsampled = s.points.length;
    });
    // The previous implementation of queryMetricSeries, verbatim: every row through Prisma, then LTTB.
    const all = await timeIt(ITERATIONS, async () => {
      const rows = await db.metricPoint.findMany({ where: { seriesId }, select: { step: true, value: true, wallTime: true }, orderBy: { step: "asc" } });
      if (rows.length !== POINTS) throw new Error(`expected ${POINTS} rows, got ${rows.length}`);
      lttb(rows.map((r) => ({ x: r.step, y: r.value, wallTime: r.wallTime })), MAX_POINTS);
    });
    const rollups = await db.metricRollup.count({ where: { seriesId } });

    const fmt = (r: { p50: number; p99: number }) => `p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms`;
    console.log(`load average (1/5/15 min): ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
    console.log(`ingest: ${POINTS.toLocaleString("en")} points of one key in ${BATCH}-point batches in ${ingestSeconds.toFixed(1)} s (${Math.round(POINTS / ingestSeconds).toLocaleString("en")} points/s); ${rollups} rollup rows`);
    console.log(`(a) queryMetricSeries maxPoints=${MAX_POINTS} (M4 over rollups, ${downsampled} points): ${fmt(m4)}  [${ITERATIONS} iterations]`);
    console.log(`(b) every point through Prisma + LTTB (previous path):        ${fmt(all)}  [${ITERATIONS} iterations]`);
    console.log(`speed-up: p50 ${(all.p50 / m4.p50).toFixed(0)}x, p99 ${(all.p99 / m4.p99).toFixed(0)}x`);
  } finally {
    await db.$disconnect();
    await database.drop();
  }
}

runBenchmark(main);
