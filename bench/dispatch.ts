// Dispatch latency: trigger accepted (triggerRun resolved) → the executor's launch call for the train stage, with
// 100 runs triggered concurrently (spread over `pipelines` pipelines: triggers of one pipeline serialise on its
// advisory lock for run numbering) against one in-process worker (real Postgres, Redis, BullMQ; the prepare stage
// runs in between). The workload is /bin/true: only the dispatch path is measured.
//   npx tsx bench/dispatch.ts [runs=100] [pipelines=10]
// Baseline in the same run (so load from other processes on the host cancels as far as it can): the floor of the
// queue and database — the same number of no-op BullMQ jobs added at once to a queue of the same worker settings,
// each doing one `SELECT 1` through the worker's Prisma client, enqueue → processed.
// Profile: every SQL statement sent through `pg` is counted (and its client-side time summed) while the burst runs.
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { randomBytes } from "node:crypto";
import { Queue, Worker } from "bullmq";
import pg from "pg";
import { createPrismaClient } from "@loraplane/db";
import { measureDatasetDigest, triggerRun } from "@loraplane/services";
import { pino } from "pino";
import { createLocalExecutor } from "../workers/src/executors/local.ts";
import { startWorkerApp } from "../workers/src/worker-app.ts";
import { createBenchDatabase } from "./bench-db.ts";
import { percentile, runBenchmark } from "./stats.ts";

const RUNS = Number(process.argv[2] ?? 100);
const PIPELINES = Number(process.argv[3] ?? 10);
const REDIS = "redis://127.0.0.1:6379";

/** Counts statements sent through any pg client (Prisma's adapter uses pg), by their first words. */
function countStatements() {
  const counts = new Map<string, number>();
  let total = 0;
  let clientMs = 0;
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = proto.query;
  proto.query = function (this: unknown, ...args: unknown[]) {
    const first = args[0];
    const text = typeof first === "string" ? first : ((first as { text?: string } | null)?.text ?? "");
    const kind = text.trim().replace(/\s+/g, " ").replace(/"public"\./g, "").slice(0, 48);
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
    total++;
    const started = performance.now();
    const result = original.apply(this, args);
    if (result && typeof (result as Promise<unknown>).then === "function") {
      void (result as Promise<unknown>).then(() => (clientMs += performance.now() - started), () => undefined);
    }
    return result;
  };
  return {
    reset() {
      counts.clear();
      total = 0;
      clientMs = 0;
    },
    snapshot: () => ({ total, clientMs, counts: [...counts].sort((a, b) => b[1] - a[1]) }),
    restore() {
      proto.query = original;
    },
  };
}

/** The floor: `n` no-op jobs added at once, each one `SELECT 1`, enqueue → processed (ms). */
async function queueAndDatabaseFloor(db: ReturnType<typeof createPrismaClient>, n: number): Promise<number[]> {
  const prefix = `lpq-floor-${randomBytes(4).toString("hex")}`;
  const connection = { url: REDIS, maxRetriesPerRequest: null };
  const queue = new Queue("floor", { connection, prefix });
  const added = new Map<string, number>();
  const done = new Map<string, number>();
  const worker = new Worker(
    "floor",
    async (job) => {
      await db.$queryRawUnsafe("SELECT 1");
      done.set(job.id!, performance.now());
    },
    { connection, prefix, concurrency: 32 },
  );
  await worker.waitUntilReady();
  try {
    await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const t = performance.now();
        await queue.add("noop", {}, { jobId: `j${i}`, removeOnComplete: true });
        added.set(`j${i}`, t);
      }),
    );
    const deadline = Date.now() + 30_000;
    while (done.size < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    return [...added].map(([id, t]) => (done.get(id) ?? Number.NaN) - t).filter(Number.isFinite);
  } finally {
    await worker.close();
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
  }
}

async function main(): Promise<void> {
  const statements = countStatements();
  const database = await createBenchDatabase("dispatch");
  // Separate pools as in production, where the API and the worker are different processes.
  const db = createPrismaClient({ url: database.url, poolSize: 10 });
  const workerDb = createPrismaClient({ url: database.url, poolSize: 10 });
  const root = mkdtempSync(path.join(os.tmpdir(), "lp-dispatch-"));
  const template = path.join(root, "template");
  const workDir = path.join(root, "work");
  mkdirSync(template);
  mkdirSync(path.join(root, "model"));
  for (const s of ["train", "test"]) writeFileSync(path.join(template, `${s}.jsonl`), '{"instruction":"a","output":"b"}\n');
  writeFileSync(path.join(root, "model", "config.json"), "{}");
  const accepted = new Map<string, number>();
  const launched = new Map<string, number>();
  const prefix = `lpq-bench-${randomBytes(4).toString("hex")}`;
  const app = await startWorkerApp({
    db: workerDb,
    redisUrl: REDIS,
    prefix,
    executor: createLocalExecutor({ dataDir: workDir, baseEnv: () => ({ PATH: "/usr/bin:/bin" }), command: () => ["/bin/true"] }),
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
    // The dataset version lies under the project's storage prefix with its files' real digest, as prepare requires.
    const datasetDir = path.join(workDir, "projects", project.id, "datasets", "d", "v1");
    cpSync(template, datasetDir, { recursive: true });
    const digest = await measureDatasetDigest(datasetDir);
    if (!digest.ok) throw new Error(digest.reason);
    const dataset = await db.dataset.create({ data: { projectId: project.id, name: "d" }, select: { id: true } });
    await db.datasetVersion.create({ data: { datasetId: dataset.id, version: "v1", uri: pathToFileURL(datasetDir).toString(), sha256: digest.sha256, rowCount: 1, format: "alpaca", splits: {} } });
    const spec = { name: "b", model: { name: "m", baseModel: path.join(root, "model") }, dataset: { name: "d", version: "v1" } };
    const pipelines: { id: string }[] = [];
    for (let i = 0; i < PIPELINES; i++) pipelines.push(await db.pipeline.create({ data: { projectId: project.id, name: `b${i}`, spec }, select: { id: true } }));
    const pipeline = pipelines[0]!;
    const waitForLaunch = async (runId: string) => {
      const deadline = Date.now() + 30_000;
      while (!launched.has(runId)) {
        if (Date.now() > deadline) {
          const stages = await db.stageRun.findMany({ where: { runId }, select: { stage: true, status: true, error: true } });
          throw new Error(`run ${runId} never launched train: ${JSON.stringify(stages)}`);
        }
        await new Promise((r) => setTimeout(r, 5));
      }
      return launched.get(runId)!;
    };
    // Warm-up: one run through the whole path so connection pools and code paths are hot.
    const warm = await triggerRun({ db, queue: app.queue }, { projectId: project.id, pipelineId: pipeline.id, trigger: "api" });
    await waitForLaunch(warm.run.id);
    // One run alone, several times: the unloaded dispatch path.
    const alone: number[] = [];
    await new Promise((r) => setTimeout(r, 300));
    statements.reset();
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 300)); // let the previous run's train/eval finish
      const { run } = await triggerRun({ db, queue: app.queue }, { projectId: project.id, pipelineId: pipeline.id, trigger: "api" });
      const t = performance.now();
      alone.push((await waitForLaunch(run.id)) - t);
    }
    const aloneStatements = statements.snapshot();
    await new Promise((r) => setTimeout(r, 500));
    launched.clear();

    const floor = await queueAndDatabaseFloor(workerDb, RUNS);
    await new Promise((r) => setTimeout(r, 200));

    statements.reset();
    let triggerRetries = 0;
    const burstStart = performance.now();
    await Promise.all(
      Array.from({ length: RUNS }, async (_, i) => {
        // Under a burst on a loaded host a trigger can wait longer than its transaction's maxWait (15 s) for a
        // connection (Prisma P2028); a client retries it with the same idempotency key, so the retry is safe.
        const input = { projectId: project.id, pipelineId: pipelines[i % PIPELINES]!.id, trigger: "api" as const, idempotencyKey: `burst-${i}` };
        for (;;) {
          try {
            const { run } = await triggerRun({ db, queue: app.queue }, input);
            accepted.set(run.id, performance.now());
            return;
          } catch (error) {
            if ((error as { code?: string }).code !== "P2028") throw error;
            triggerRetries++;
          }
        }
      }),
    );
    const acceptedSpan = performance.now() - burstStart;
    const deadline = Date.now() + 60_000;
    while (launched.size < RUNS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const burst = statements.snapshot();
    const latencies = [...accepted].map(([id, t]) => (launched.get(id) ?? Number.NaN) - t).filter(Number.isFinite);
    const p = (xs: number[], q: number) => percentile(xs, q).toFixed(1);
    console.log(`load average at the end: ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`);
    console.log(`one run alone (last 4 of 5 after warm-up), trigger resolved → train launch: ${alone.slice(1).map((x) => x.toFixed(1)).join(", ")} ms`);
    console.log(`  statements for those 5 runs (trigger, prepare, train, eval, the run's end): ${aloneStatements.total} (${(aloneStatements.total / 5).toFixed(1)} per run)`);
    console.log(`floor: ${RUNS} no-op BullMQ jobs (one SELECT 1 each) added at once, enqueue → done: p50 ${p(floor, 0.5)} ms, p99 ${p(floor, 0.99)} ms`);
    console.log(`burst: ${RUNS} runs of ${PIPELINES} pipeline(s) triggered concurrently, accepted within ${acceptedSpan.toFixed(0)} ms (triggers retried after P2028, no connection within 15 s: ${triggerRetries}), launched: ${latencies.length}`);
    console.log(`trigger accepted → train launch call: p50 ${p(latencies, 0.5)} ms, p99 ${p(latencies, 0.99)} ms, max ${Math.max(...latencies).toFixed(1)} ms`);
    console.log(`ratio to the floor: p50 ${(percentile(latencies, 0.5) / percentile(floor, 0.5)).toFixed(1)}×, p99 ${(percentile(latencies, 0.99) / percentile(floor, 0.99)).toFixed(1)}×`);
    console.log(`statements during the burst: ${burst.total} (${(burst.total / RUNS).toFixed(1)} per run; client-side time ${(burst.clientMs / burst.total).toFixed(2)} ms each on average)`);
    for (const [kind, n] of burst.counts.slice(0, 25)) console.log(`  ${String(n).padStart(6)}  ${kind}`);
    console.log(`reproduce: npx tsx bench/dispatch.ts ${RUNS} ${PIPELINES}`);
  } finally {
    statements.restore();
    await app.stop();
    await app.queue.stages.obliterate({ force: true }).catch(() => undefined);
    await app.queue.runs.obliterate({ force: true }).catch(() => undefined);
    await db.$disconnect();
    await workerDb.$disconnect();
    await database.drop();
  }
}

runBenchmark(main);
