// Test fixtures: a dataset version directory, a base model directory and the catalog rows that point at them.
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { workloadEnvironment } from "@loraplane/config";
import type { Db } from "@loraplane/db";
import { measureDatasetDigest } from "@loraplane/services";
import { pino } from "pino";
import { createLocalExecutor } from "../../src/executors/local.ts";
import { startWorkerApp, type TWorkerApp } from "../../src/worker-app.ts";

export const FAKE_WORKLOAD = path.resolve(import.meta.dirname, "fake-workload.mjs");
/** The fake workload's own variables: passed through like the runtime's (workloadEnvironment's `extra`). */
export const FAKE_WORKLOAD_ENV = ["FAKE_MODE", "FAKE_STEP_MS", "FAKE_EVAL_MS"];

export function makeDataDirs(matchShare = 0.75) {
  const root = mkdtempSync(path.join(os.tmpdir(), "lp-engine-"));
  const data = path.join(root, "dataset");
  const model = path.join(root, "model");
  mkdirSync(data);
  mkdirSync(model);
  const rows = Array.from({ length: 8 }, (_, i) => ({ instruction: `q${i}`, output: i < matchShare * 8 ? `ok ${i}` : `other ${i}` }));
  for (const split of ["train", "validation", "test"]) writeFileSync(path.join(data, `${split}.jsonl`), rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
  writeFileSync(path.join(model, "config.json"), "{}");
  const workDir = path.join(root, "work");
  // The local executor's data dir is workDir: datasets go under workDir/projects/<projectId>/datasets/.
  return { root, datasetTemplate: data, modelDir: model, workDir, dataRoot: workDir, hostDataRoot: workDir };
}

export interface TSeedDirs {
  /** Split files copied into each seeded project's dataset version. */
  datasetTemplate: string;
  /** The storage root as the workload sees it (the local data dir, or /data in a Job). */
  dataRoot: string;
  /** The same root on this machine, where the files are written. */
  hostDataRoot: string;
  modelDir: string;
}

/** A project whose dataset version demo@v1 lies under its storage prefix with the files' real digest. */
export async function seedProject(db: Db, dirs: TSeedDirs, specPatch: Record<string, unknown> = {}) {
  const label = Math.random().toString(36).slice(2, 8);
  const user = await db.user.create({ data: { email: `u-${label}@example.test`, role: "engineer" }, select: { id: true } });
  const project = await db.project.create({ data: { slug: `p-${label}`, name: label }, select: { id: true } });
  const rel = `projects/${project.id}/datasets/demo/v1`;
  const hostDir = path.join(dirs.hostDataRoot, rel);
  cpSync(dirs.datasetTemplate, hostDir, { recursive: true });
  const digest = await measureDatasetDigest(hostDir);
  if (!digest.ok) throw new Error(digest.reason);
  const dataset = await db.dataset.create({ data: { projectId: project.id, name: "demo" }, select: { id: true } });
  const datasetVersion = await db.datasetVersion.create({
    data: { datasetId: dataset.id, version: "v1", uri: pathToFileURL(path.posix.join(dirs.dataRoot, rel)).href, sha256: digest.sha256, rowCount: 8, format: "alpaca", splits: {} },
    select: { id: true, uri: true, sha256: true },
  });
  const spec = {
    name: "demo",
    model: { name: "demo-model", baseModel: dirs.modelDir },
    dataset: { name: "demo", version: "v1" },
    training: { maxSteps: 30 },
    eval: { metrics: ["rouge_l", "exact_match"], thresholds: [{ metric: "rouge_l", comparator: ">=", value: 0.5 }] },
    ...specPatch,
  };
  const pipeline = await db.pipeline.create({ data: { projectId: project.id, name: `demo-${label}`, spec }, select: { id: true } });
  return { userId: user.id, projectId: project.id, pipelineId: pipeline.id, datasetVersionId: datasetVersion.id, datasetDir: hostDir, datasetSha256: digest.sha256 };
}

export async function waitFor<T>(fn: () => Promise<T | null | undefined | false>, timeoutMs = 30_000, what = "condition"): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * A worker app on the local executor whose workloads are the fake runtime, with the fast engine settings these tests
 * use; `stopFakeWorker` stops it and empties its queue (every test file has its own queue prefix).
 */
export function startFakeWorker(
  db: Db,
  dirs: { workDir: string },
  prefix: string,
  options: { concurrency?: number; reconcileIntervalMs?: number; heartbeatTimeoutS?: number; onLaunch?: (runId: string, stage: string, attempt: number) => void } = {},
): Promise<TWorkerApp> {
  return startWorkerApp({
    db,
    redisUrl: "redis://127.0.0.1:6379",
    prefix,
    executor: createLocalExecutor({ dataDir: dirs.workDir, baseEnv: () => workloadEnvironment(FAKE_WORKLOAD_ENV), command: (s) => [process.execPath, FAKE_WORKLOAD, s.command, "--config", "job.json"] }),
    log: pino({ level: "silent" }),
    concurrency: options.concurrency ?? 4,
    reconcileIntervalMs: options.reconcileIntervalMs ?? 1000,
    engine: { pollMs: 50, heartbeatTimeoutS: options.heartbeatTimeoutS ?? 5, logTailLines: 5, runTokenTtlS: 3600, publicUrl: "http://127.0.0.1:1" },
    ...(options.onLaunch ? { onLaunch: options.onLaunch } : {}),
  });
}

export async function stopFakeWorker(app: TWorkerApp | undefined): Promise<void> {
  await app?.stop();
  await app?.queue.stages.obliterate({ force: true }).catch(() => undefined);
}
