// Rows a run needs (project, dataset version, pipeline), created straight through the test database's client.
import type { Db } from "@loraplane/db";

export async function seedPipeline(db: Db, opts: { spec?: Record<string, unknown>; datasetUri?: string; label?: string } = {}) {
  const label = opts.label ?? Math.random().toString(36).slice(2, 8);
  const user = await db.user.create({ data: { email: `u-${label}@example.test`, role: "engineer" }, select: { id: true } });
  const approver = await db.user.create({ data: { email: `a-${label}@example.test`, role: "approver" }, select: { id: true } });
  const project = await db.project.create({ data: { slug: `p-${label}`, name: `Project ${label}` }, select: { id: true } });
  const dataset = await db.dataset.create({ data: { projectId: project.id, name: "demo" }, select: { id: true } });
  const datasetVersion = await db.datasetVersion.create({
    data: { datasetId: dataset.id, version: "v1", uri: opts.datasetUri ?? "file:///tmp/none", sha256: "a".repeat(64), rowCount: 10, format: "alpaca", splits: {} },
    select: { id: true },
  });
  const spec = opts.spec ?? {
    name: "demo",
    model: { name: "demo-model", baseModel: "/models/tiny" },
    dataset: { name: "demo", version: "v1" },
    training: { maxSteps: 5 },
    eval: { metrics: ["rouge_l", "exact_match"], thresholds: [{ metric: "rouge_l", comparator: ">=", value: 0.1 }] },
  };
  const pipeline = await db.pipeline.create({ data: { projectId: project.id, name: `demo-${label}`, spec: spec as object }, select: { id: true } });
  return { userId: user.id, approverId: approver.id, projectId: project.id, datasetVersionId: datasetVersion.id, pipelineId: pipeline.id };
}
