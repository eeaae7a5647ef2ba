// Dispatch latency: trigger accepted (triggerRun resolved) → the executor's launch call for the train stage, with
// 100 runs triggered concurrently against one in-process worker (real Postgres, Redis, BullMQ; the prepare stage runs
// in between). The workload is /bin/true: only the dispatch path is measured.   npx tsx bench/dispatch.ts [runs]
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { randomBytes } from "node:crypto";
import { createPrismaClient } from "@loraplane/db";
import { triggerRun } from "@loraplane/services";
import { pino } from "pino";
import { createLocalExecutor } from "../workers/src/executors/local.ts";
import { startWorkerApp } from "../workers/src/worker-app.ts";
import { createBenchDatabase } from "./bench-db.ts";
import { percentile, runBenchmark } from "./stats.ts";

const RUNS = Number(process.argv[2] ?? 100);

async function main(): Promise<void> {
  const database = await createBenchDatabase("dispatch");
  // Separate pools as in production, where the API and the worker are different processes.
  const db = createPrismaClient({ url: database.url, poolSize: 10 });
  const workerDb = createPrismaClient({ url: database.url, poolSize: 10 });
  const root = mkdtempSync(path.join(os.tmpdir(), "lp-dispatch-"));
  mkdirSync(path.join(root, "data"));
  mkdirSync(path.join(root, "model"));
  for (const s of ["train", "test"]) writeFileSync(path.join(root, "data", `${s}.jsonl`), '{"instruction":"a","output":"b"}\n');
  writeFileSync(path.join(root, "model", "config.json"), "{}");
  const accepted = new Map<string, number>();
  const launched = new Map<string, number>();
  const prefix = `lpq-bench-${randomBytes(4).toString("hex")}`;
  const app = await startWorkerApp({
    db: workerDb,
    redisUrl: "redis://127.0.0.1:6379",
    prefix,
    executor: createLocalExecutor({ dataDir: path.join(root, "work"), baseEnv: () => ({ PATH: "/usr/bin:/bin" }), command: () => ["/bin/true"] }),
    log: pino({ level: "silent" }),
    concurrency: 32,
    reconcileIntervalMs: 60_000,
    engine: { pollMs: 100, heartbeatTimeoutS: 60, logTailLines: 5, runTokenTtlS: 3600, publicUrl: "http://127.0.0.1:1" },
    onLaunch: (runId, stage) => {
      if (stage === "train" && !launched.has(runId)) launched.set(runId, performance.now());
    },
  });
  try {
    const project = await db.project.create({ data: { slug: "bench", name: "bench" }, select: { id: true } });
    const dataset = await db.dataset.create({ data: { projectId: project.id, name: "d" }, select: { id: true } });
    await db.datasetVersion.create({ data: { datasetId: dataset.id, version: "v1", uri: pathToFileURL(path.join(root, "data")).toString(), sha256: "d".repeat(64), rowCount: 1, format: "alpaca", splits: {} } });
    const spec = { name: "b", model: { name: "m", baseModel: path.join(root, "model") }, dataset: { name: "d", version: "v1" } };
    const pipeline = await db.pipeline.create({ data: { projectId: project.id, name: "b", spec }, select: { id: true } });
    // Warm-up: one run through the whole path so connection pools and code paths are hot.
    const warm = await triggerRun({ db, queue: app.queue }, { projectId: project.id, pipelineId: pipeline.id, trigger: "api" });
    while (!launched.has(warm.run.id)) await new Promise((r) => setTimeout(r, 20));
    launched.clear();

    await Promise.all(
      Array.from({ length: RUNS }, async () => {
        const { run } = await triggerRun({ db, queue: app.queue }, { projectId: project.id, pipelineId: pipeline.id, trigger: "api" });
        accepted.set(run.id, performance.now());
      }),
    );
    const deadline = Date.now() + 60_000;
    while (launched.size < RUNS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const latencies = [...accepted].map(([id, t]) => (launched.get(id) ?? Number.NaN) - t).filter(Number.isFinite).sort((a, b) => a - b);
    console.log(`runs triggered concurrently: ${RUNS}, launched: ${latencies.length}`);
    console.log(`trigger accepted → train launch call: p50 ${percentile(latencies, 0.5).toFixed(1)} ms, p99 ${percentile(latencies, 0.99).toFixed(1)} ms, max ${latencies[latencies.length - 1]!.toFixed(1)} ms`);
  } finally {
    await app.stop();
    await app.queue.stages.obliterate({ force: true }).catch(() => undefined);
    await app.queue.runs.obliterate({ force: true }).catch(() => undefined);
    await db.$disconnect();
    await workerDb.$disconnect();
    await database.drop();
  }
}

runBenchmark(main);
