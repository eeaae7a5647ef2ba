// Test fixtures: a dataset version directory, a base model directory and the catalog rows that point at them.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import type { Db } from "@loraplane/db";

export const FAKE_WORKLOAD = path.resolve(import.meta.dirname, "fake-workload.mjs");

export function makeDataDirs(matchShare = 0.75) {
  const root = mkdtempSync(path.join(os.tmpdir(), "lp-engine-"));
  const data = path.join(root, "dataset");
  const model = path.join(root, "model");
  mkdirSync(data);
  mkdirSync(model);
  const rows = Array.from({ length: 8 }, (_, i) => ({ instruction: `q${i}`, output: i < matchShare * 8 ? `ok ${i}` : `other ${i}` }));
  for (const split of ["train", "validation", "test"]) writeFileSync(path.join(data, `${split}.jsonl`), rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
  writeFileSync(path.join(model, "config.json"), "{}");
  return { root, dataUri: pathToFileURL(data).toString(), modelDir: model, workDir: path.join(root, "work") };
}

export async function seedProject(db: Db, dirs: { dataUri: string; modelDir: string }, specPatch: Record<string, unknown> = {}) {
  const label = Math.random().toString(36).slice(2, 8);
  const user = await db.user.create({ data: { email: `u-${label}@example.test`, role: "engineer" }, select: { id: true } });
  const project = await db.project.create({ data: { slug: `p-${label}`, name: label }, select: { id: true } });
  const dataset = await db.dataset.create({ data: { projectId: project.id, name: "demo" }, select: { id: true } });
  await db.datasetVersion.create({ data: { datasetId: dataset.id, version: "v1", uri: dirs.dataUri, sha256: "b".repeat(64), rowCount: 8, format: "alpaca", splits: {} } });
  const spec = {
    name: "demo",
    model: { name: "demo-model", baseModel: dirs.modelDir },
    dataset: { name: "demo", version: "v1" },
    training: { maxSteps: 30 },
    eval: { metrics: ["rouge_l", "exact_match"], thresholds: [{ metric: "rouge_l", comparator: ">=", value: 0.5 }] },
    ...specPatch,
  };
  const pipeline = await db.pipeline.create({ data: { projectId: project.id, name: `demo-${label}`, spec }, select: { id: true } });
  return { userId: user.id, projectId: project.id, pipelineId: pipeline.id };
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
