// Metric ingest benchmark: 8 concurrent writers POST 1000-point batches over HTTP into Postgres through the ingest
// service (the same code the REST route calls, behind the run-token check), against a one-row-per-INSERT baseline
// through the same HTTP server in the same run, and against the physical limit: the same points COPYed straight into
// the same table by psql (libpq, text COPY FROM STDIN; one stream and 8 concurrent streams, no upsert, no roll-ups).
//   npx tsx bench/ingest.ts [batchesPerWriter]
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import os from "node:os";
import type { AddressInfo } from "node:net";
import { createPrismaClient } from "@loraplane/db";
import { createBenchDatabase, createBenchRuns } from "./bench-db.ts";
import { authenticateRunToken, ingestMetricPoints, issueRunToken } from "@loraplane/services";
import { percentile, runBenchmark } from "./stats.ts";

const WRITERS = 8;
const BATCH = 1000;
const BATCHES = Number(process.argv[2] ?? 25);
const BASELINE_BATCHES = Math.max(1, Math.round(BATCHES / 25));
// API and COPY phases alternate in this many rounds, so load from other processes on the host hits both alike.
const ROUNDS = 3;

/** The points writer `w` sends in batch `b` (10 keys × 100 steps, like a trainer logging several series). */
function batchPoints(w: number, b: number) {
  return Array.from({ length: BATCH }, (_, i) => ({ key: `w${w}/m${i % 10}`, step: b * 100 + Math.floor(i / 10), value: Math.random(), timestamp: Date.now() }));
}

/** `COPY "MetricPoint" FROM STDIN` through psql with the given text rows; resolves when psql has exited 0. */
function psqlCopy(url: string, rows: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("psql", [url, "-v", "ON_ERROR_STOP=1", "-q", "-c", `COPY "MetricPoint" ("seriesId", "step", "value", "wallTime") FROM STDIN`], { stdio: ["pipe", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`psql COPY exited ${code}: ${stderr}`))));
    child.stdin.end(rows);
  });
}

/** The same points as the API phase, COPYed by `streams` concurrent psql processes into fresh series of `runId`. */
async function copyPhase(db: ReturnType<typeof createPrismaClient>, url: string, runId: string, streams: number, round: number, batches: number) {
  const seriesIds = new Map<string, number>();
  for (let w = 0; w < WRITERS; w++) {
    for (let m = 0; m < 10; m++) {
      const key = `copy${streams}/r${round}/w${w}/m${m}`;
      const series = await db.metricSeries.create({ data: { runId, key }, select: { id: true } });
      seriesIds.set(`w${w}/m${m}`, series.id);
    }
  }
  // Rows are rendered before timing: what is measured is Postgres taking them, not this process writing text.
  const perWriter = Array.from({ length: WRITERS }, (_, w) => {
    const lines: string[] = [];
    for (let b = 0; b < batches; b++) {
      for (const p of batchPoints(w, b)) lines.push(`${seriesIds.get(p.key)}\t${p.step}\t${p.value}\t${new Date(p.timestamp).toISOString()}\n`);
    }
    return lines.join("");
  });
  const chunks = streams === 1 ? [perWriter.join("")] : perWriter;
  const t0 = performance.now();
  await Promise.all(chunks.map((rows) => psqlCopy(url, rows)));
  const seconds = (performance.now() - t0) / 1000;
  const points = WRITERS * batches * BATCH;
  return { points, seconds, pointsPerSecond: points / seconds };
}

async function main(): Promise<void> {
  const database = await createBenchDatabase("ingest");
  const db = createPrismaClient({ url: database.url, poolSize: 16 });
  try {
    const [batchRunId, baselineRunId, copyRunId] = (await createBenchRuns(db, 3)).runIds as [string, string, string];
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

    async function phase(runId: string, secret: string, suffix: string, batches: number, firstBatch = 0) {
      const latencies: number[] = [];
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: WRITERS }, async (_, w) => {
          for (let b = firstBatch; b < firstBatch + batches; b++) {
            const points = batchPoints(w, b);
            const s = performance.now();
            const res = await fetch(`${base}/runs/${runId}/${suffix}`, { method: "POST", headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" }, body: JSON.stringify({ points }) });
            if (!res.ok) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
            latencies.push(performance.now() - s);
          }
        }),
      );
      const seconds = (performance.now() - t0) / 1000;
      return { points: WRITERS * batches * BATCH, seconds, pointsPerSecond: (WRITERS * batches * BATCH) / seconds, p50Ms: percentile(latencies, 0.5), p99Ms: percentile(latencies, 0.99), latencies };
    }

    await phase(batchRunId, token.secret, "metrics", 1); // warm-up
    // Rounds: API batches (appending steps, like a trainer), then the same number of points by one COPY stream and by
    // 8 COPY streams. Totals over the rounds.
    type TPhase = Awaited<ReturnType<typeof phase>>;
    const sum = (xs: { points: number; seconds: number }[]) => {
      const points = xs.reduce((a, x) => a + x.points, 0);
      const seconds = xs.reduce((a, x) => a + x.seconds, 0);
      return { points, seconds, pointsPerSecond: points / seconds };
    };
    const apiRounds: TPhase[] = [];
    const copyOneRounds: { points: number; seconds: number }[] = [];
    const copyEightRounds: { points: number; seconds: number }[] = [];
    const perRound = Math.max(1, Math.round(BATCHES / ROUNDS));
    for (let round = 0; round < ROUNDS; round++) {
      apiRounds.push(await phase(batchRunId, token.secret, "metrics", perRound, 1 + round * perRound));
      copyOneRounds.push(await copyPhase(db, database.url, copyRunId, 1, round, perRound));
      copyEightRounds.push(await copyPhase(db, database.url, copyRunId, WRITERS, round, perRound));
    }
    const apiTotal = sum(apiRounds);
    const batched = { ...apiTotal, p50Ms: percentile(apiRounds.flatMap((r) => r.latencies), 0.5), p99Ms: percentile(apiRounds.flatMap((r) => r.latencies), 0.99) };
    const copyOne = sum(copyOneRounds);
    const copyEight = sum(copyEightRounds);
    const baseline = await phase(baselineRunId, baselineToken.secret, "baseline", BASELINE_BATCHES);
    const stored = await db.metricPoint.count({ where: { series: { runId: batchRunId } } });
    server.close();
    const fmt = (r: typeof batched) => `${Math.round(r.pointsPerSecond).toLocaleString("en")} points/s, batch p50 ${r.p50Ms.toFixed(1)} ms, p99 ${r.p99Ms.toFixed(1)} ms (${r.points} points in ${r.seconds.toFixed(2)} s)`;
    console.log(`writers: ${WRITERS}, batch size: ${BATCH}`);
    console.log(`batched (one SQL function call per batch: unnest upsert + roll-ups), ${ROUNDS} rounds: ${fmt(batched)}`);
    console.log(`baseline (one INSERT per point):      ${fmt(baseline)}`);
    console.log(`COPY, 1 psql stream:  ${Math.round(copyOne.pointsPerSecond).toLocaleString("en")} points/s (${copyOne.points} points in ${copyOne.seconds.toFixed(2)} s)`);
    console.log(`COPY, ${WRITERS} psql streams: ${Math.round(copyEight.pointsPerSecond).toLocaleString("en")} points/s (${copyEight.points} points in ${copyEight.seconds.toFixed(2)} s)`);
    console.log(`speed-up over one-row inserts: ${(batched.pointsPerSecond / baseline.pointsPerSecond).toFixed(1)}x; rows stored for the batched run: ${stored}`);
    console.log(`API path as % of COPY: ${((100 * batched.pointsPerSecond) / copyOne.pointsPerSecond).toFixed(1)}% of one stream, ${((100 * batched.pointsPerSecond) / copyEight.pointsPerSecond).toFixed(1)}% of ${WRITERS} streams`);
    console.log(`load average: ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`);
    console.log(`reproduce: npx tsx bench/ingest.ts ${BATCHES}`);
  } finally {
    await db.$disconnect();
    await database.drop();
  }
}

runBenchmark(main);
