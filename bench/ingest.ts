// Metric ingest benchmark: 8 concurrent writers POST 1000-point batches over HTTP into Postgres through the ingest
// service (the same code the REST route calls, behind the run-token check), against a one-row-per-INSERT baseline
// through the same HTTP server in the same run.   npx tsx bench/ingest.ts [batchesPerWriter]
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createPrismaClient } from "@loraplane/db";
import { createBenchDatabase, createBenchRuns } from "./bench-db.ts";
import { authenticateRunToken, ingestMetricPoints, issueRunToken } from "@loraplane/services";
import { percentile, runBenchmark } from "./stats.ts";

const WRITERS = 8;
const BATCH = 1000;
const BATCHES = Number(process.argv[2] ?? 25);
const BASELINE_BATCHES = Math.max(1, Math.round(BATCHES / 10));

async function main(): Promise<void> {
  const database = await createBenchDatabase("ingest");
  const db = createPrismaClient({ url: database.url, poolSize: 16 });
  try {
    const [batchRunId, baselineRunId] = (await createBenchRuns(db, 2)).runIds as [string, string];
    // Run tokens authenticate only while their stage attempt runs.
    await db.stageRun.createMany({ data: [batchRunId, baselineRunId].map((runId) => ({ runId, stage: "train" as const, attempt: 1, status: "running" as const })) });
    const token = await issueRunToken(db, { runId: batchRunId, stage: "train", attempt: 1 }, 3600);
    const baselineToken = await issueRunToken(db, { runId: baselineRunId, stage: "train", attempt: 1 }, 3600);

    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", async () => {
        try {
          const runId = req.url!.split("/")[2]!;
          await authenticateRunToken(db, runId, req.headers.authorization?.replace(/^Bearer /, ""));
          const body = JSON.parse(Buffer.concat(chunks).toString()) as { points: { key: string; step: number; value: number; timestamp: number }[] };
          if (req.url!.endsWith("/metrics")) {
            await ingestMetricPoints(db, runId, body.points);
          } else {
            // Baseline: what a naive endpoint does — one INSERT per point.
            for (const p of body.points) {
              const [s] = await db.$queryRawUnsafe<{ id: number }[]>(
                `INSERT INTO "MetricSeries" ("runId", key) VALUES ($1, $2) ON CONFLICT ("runId", key) DO UPDATE SET key = EXCLUDED.key RETURNING id`,
                runId,
                p.key,
              );
              await db.$executeRawUnsafe(
                `INSERT INTO "MetricPoint" ("seriesId", step, value, "wallTime") VALUES ($1, $2, $3, $4::timestamptz) ON CONFLICT ("seriesId", step) DO UPDATE SET value = EXCLUDED.value`,
                s!.id,
                p.step,
                p.value,
                new Date(p.timestamp).toISOString(),
              );
            }
          }
          res.writeHead(200).end("{}");
        } catch (error) {
          res.writeHead(500).end(String(error));
        }
      });
    });
    await new Promise<void>((r) => server.listen(18100, "127.0.0.1", r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    async function phase(runId: string, secret: string, suffix: string, batches: number) {
      const latencies: number[] = [];
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: WRITERS }, async (_, w) => {
          for (let b = 0; b < batches; b++) {
            // 10 keys × 100 steps per batch, like a trainer logging several series.
            const points = Array.from({ length: BATCH }, (_, i) => ({ key: `w${w}/m${i % 10}`, step: b * 100 + Math.floor(i / 10), value: Math.random(), timestamp: Date.now() }));
            const s = performance.now();
            const res = await fetch(`${base}/runs/${runId}/${suffix}`, { method: "POST", headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" }, body: JSON.stringify({ points }) });
            if (!res.ok) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
            latencies.push(performance.now() - s);
          }
        }),
      );
      const seconds = (performance.now() - t0) / 1000;
      return { points: WRITERS * batches * BATCH, seconds, pointsPerSecond: (WRITERS * batches * BATCH) / seconds, p50Ms: percentile(latencies, 0.5), p99Ms: percentile(latencies, 0.99) };
    }

    await phase(batchRunId, token.secret, "metrics", 1); // warm-up
    const batched = await phase(batchRunId, token.secret, "metrics", BATCHES);
    const baseline = await phase(baselineRunId, baselineToken.secret, "baseline", BASELINE_BATCHES);
    const stored = await db.metricPoint.count({ where: { series: { runId: batchRunId } } });
    server.close();
    const fmt = (r: typeof batched) => `${Math.round(r.pointsPerSecond).toLocaleString("en")} points/s, batch p50 ${r.p50Ms.toFixed(1)} ms, p99 ${r.p99Ms.toFixed(1)} ms (${r.points} points in ${r.seconds.toFixed(2)} s)`;
    console.log(`writers: ${WRITERS}, batch size: ${BATCH}`);
    console.log(`batched (one transaction per batch: unnest upsert + roll-up rebuild): ${fmt(batched)}`);
    console.log(`baseline (one INSERT per point):      ${fmt(baseline)}`);
    console.log(`speed-up: ${(batched.pointsPerSecond / baseline.pointsPerSecond).toFixed(1)}x; rows stored for the batched run: ${stored}`);
  } finally {
    await db.$disconnect();
    await database.drop();
  }
}

runBenchmark(main);
