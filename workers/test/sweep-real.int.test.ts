// A 2-point sweep whose points are real runs of the Python runtime (gpu-runtime: train and evaluate a tiny random
// Qwen2 with LoRA on CPU) through the local executor: the points run one at a time, each reports its own exact_match,
// the best is picked among them and registered. The 4-point concurrency test (sweep.int.test.ts) uses the fake
// runtime for speed; this file proves the same path with the real one.
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, realpathSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { randomBytes } from "node:crypto";
import { workloadEnvironment } from "@loraplane/config";
import { useTestDb } from "@loraplane/db/testing";
import { createSweep, getSweepView, registerBestOfSweep } from "@loraplane/services";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLocalExecutor } from "../src/executors/local.ts";
import { startWorkerApp, type TWorkerApp } from "../src/worker-app.ts";
import { seedProject, waitFor } from "./helpers/fixtures.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const PYTHON = path.join(ROOT, "gpu-runtime/.venv/bin/python");
const run = promisify(execFile);
const t = useTestDb("sweep-real");
const prefix = `lpq-sweep-real-${randomBytes(4).toString("hex")}`;
let app: TWorkerApp;
let dirs: { datasetTemplate: string; modelDir: string; workDir: string; dataRoot: string; hostDataRoot: string };

beforeAll(async () => {
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: run \`bash gpu-runtime/scripts/setup-venv.sh\``);
  const root = realpathSync(mkdtempSync(path.join(os.tmpdir(), "lp-sweep-real-")));
  const workDir = path.join(root, "work");
  mkdirSync(workDir);
  dirs = { datasetTemplate: path.join(root, "data"), modelDir: path.join(root, "model"), workDir, dataRoot: workDir, hostDataRoot: workDir };
  await Promise.all([
    run(PYTHON, ["-m", "loraplane_runtime.cli", "make-tiny-model", "--output", dirs.modelDir, "--layers", "2", "--hidden", "64", "--heads", "2"], { cwd: ROOT }),
    run(PYTHON, ["-m", "loraplane_runtime.cli", "make-demo-data", "--output", dirs.datasetTemplate, "--train", "64", "--validation", "8", "--test", "8"], { cwd: ROOT }),
  ]);
  app = await startWorkerApp({
    db: t.db,
    redisUrl: "redis://127.0.0.1:6379",
    prefix,
    executor: createLocalExecutor({ dataDir: workDir, baseEnv: () => workloadEnvironment(), command: (s) => [PYTHON, "-m", "loraplane_runtime.cli", s.command, "--config", "job.json"] }),
    log: pino({ level: "silent" }),
    concurrency: 2,
    reconcileIntervalMs: 2000,
    engine: { pollMs: 200, heartbeatTimeoutS: 120, logTailLines: 20, runTokenTtlS: 3600, publicUrl: "http://127.0.0.1:1" },
  });
}, 180_000);

afterAll(async () => {
  await app?.stop();
  await app?.queue.stages.obliterate({ force: true }).catch(() => undefined);
});

describe("a sweep of real tiny-model runs", () => {
  it("trains and evaluates both points with the runtime, one at a time, and registers the best", async () => {
    const s = await seedProject(t.db, dirs, {
      dataset: { name: "demo", version: "v1", format: "alpaca" },
      training: { batchSize: 8, maxSteps: 6, maxSeqLength: 64, logEverySteps: 2, checkpointEverySteps: 100, precision: "fp32", lora: { r: 8, alpha: 16, dropout: 0 } },
      resources: { gpus: 0 },
      eval: { split: "test", maxSamples: 4, maxNewTokens: 4, batchSize: 4, metrics: ["exact_match", "rouge_l"], thresholds: [] },
      timeouts: { trainSeconds: 300, evalSeconds: 300 },
    });
    const { sweep } = await createSweep({ db: t.db, queue: app.queue }, {
      projectId: s.projectId,
      pipelineId: s.pipelineId,
      actor: { type: "user", userId: s.userId },
      body: { grid: { "training.learningRate": [1e-3, 3e-3] }, metric: "rouge_l", direction: "max", concurrency: 1 },
    });
    const done = await waitFor(async () => {
      const row = await t.db.sweep.findUniqueOrThrow({ where: { id: sweep.id }, select: { status: true } });
      return row.status !== "running" ? row : null;
    }, 540_000, "the real sweep to finish");
    const runs = await t.db.pipelineRun.findMany({ where: { sweepId: sweep.id }, select: { id: true, status: true, error: true, createdAt: true, finishedAt: true, resolvedSpec: true }, orderBy: { number: "asc" } });
    expect(runs.map((r) => [r.status, r.error])).toEqual([["succeeded", null], ["succeeded", null]]);
    expect(done.status).toBe("completed");
    // Concurrency 1: the second point was created only after the first finished.
    expect(runs[1]!.createdAt.getTime()).toBeGreaterThanOrEqual(runs[0]!.finishedAt!.getTime());
    expect(runs.map((r) => (r.resolvedSpec as { training: { learningRate: number } }).training.learningRate)).toEqual([1e-3, 3e-3]);
    // The runtime really trained: loss points and an adapter for each run.
    for (const r of runs) {
      expect(await t.db.metricPoint.count({ where: { series: { runId: r.id, key: "train/loss" } } })).toBeGreaterThan(0);
      expect(await t.db.artifact.count({ where: { runId: r.id, kind: "adapter" } })).toBe(1);
    }
    const view = await getSweepView(t.db, sweep.id);
    expect(view.points.every((p) => typeof p.value === "number")).toBe(true);
    const values = view.points.map((p) => p.value!);
    expect(view.best!.value).toBe(Math.max(...values));
    const registered = await registerBestOfSweep({ db: t.db, queue: app.queue }, { sweepId: sweep.id, actor: { type: "user", userId: s.userId } });
    expect(registered).toMatchObject({ created: true, runId: view.best!.runId, modelVersion: { version: 1 } });
  }, 600_000);
});
