// Rows for gateway benchmarks: a project, a user with an inference token, an environment and model versions.
import { createHash, randomBytes } from "node:crypto";
import type { Db } from "@loraplane/db";

export async function seedGatewayBench(db: Db, versions: number) {
  const user = await db.user.create({ data: { email: `bench-${randomBytes(3).toString("hex")}@example.test`, role: "engineer" }, select: { id: true } });
  const project = await db.project.create({ data: { slug: `bench-${randomBytes(3).toString("hex")}`, name: "bench" }, select: { id: true } });
  const pipeline = await db.pipeline.create({ data: { projectId: project.id, name: "bench", spec: {} }, select: { id: true } });
  const env = await db.environment.create({ data: { projectId: project.id, name: "bench", tier: "staging", namespace: "bench" }, select: { id: true } });
  const out: { id: string; runId: string }[] = [];
  for (let i = 1; i <= versions; i++) {
    const run = await db.pipelineRun.create({ data: { projectId: project.id, pipelineId: pipeline.id, number: i, trigger: "api", specVersion: 1, resolvedSpec: {} }, select: { id: true } });
    out.push(await db.modelVersion.create({ data: { projectId: project.id, modelName: "bench", version: i, runId: run.id, baseModel: "/models/bench", lineage: {} }, select: { id: true, runId: true } }));
  }
  const secret = `lp_${randomBytes(24).toString("base64url")}`;
  await db.apiToken.create({ data: { name: "bench", prefix: secret.slice(0, 8), secretHash: createHash("sha256").update(secret).digest("hex"), scopes: ["inference:invoke"], userId: user.id } });
  return { projectId: project.id, environmentId: env.id, versions: out, token: secret };
}
