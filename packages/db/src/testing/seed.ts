// A project with an environment and pipeline runs that each registered a model version of one base model
// (three by default), for the deployment tests of the services and the gateway.
import type { Db } from "../client.ts";

export async function seedDeployable(db: Db, opts: { requiresApproval?: boolean; tier?: "dev" | "staging" | "prod"; versions?: number } = {}) {
  const label = Math.random().toString(36).slice(2, 8);
  const user = await db.user.create({ data: { email: `d-${label}@example.test`, role: "engineer" }, select: { id: true } });
  const project = await db.project.create({ data: { slug: `dp-${label}`, name: `Deploy ${label}` }, select: { id: true } });
  const pipeline = await db.pipeline.create({ data: { projectId: project.id, name: `p-${label}`, spec: {} }, select: { id: true } });
  const runs = await Promise.all(
    Array.from({ length: opts.versions ?? 3 }, (_, i) => i + 1).map((number) =>
      db.pipelineRun.create({ data: { projectId: project.id, pipelineId: pipeline.id, number, trigger: "api", specVersion: 1, resolvedSpec: {} }, select: { id: true } }),
    ),
  );
  const versions = await Promise.all(
    runs.map((r, i) =>
      db.modelVersion.create({
        data: { projectId: project.id, modelName: "qwen-zh", version: i + 1, runId: r.id, baseModel: "/models/tiny", lineage: {} },
        select: { id: true, runId: true },
      }),
    ),
  );
  const env = await db.environment.create({
    data: { projectId: project.id, name: `env-${label}`, tier: opts.tier ?? "staging", namespace: "ns", requiresApproval: opts.requiresApproval ?? false },
    select: { id: true },
  });
  return { userId: user.id, projectId: project.id, environmentId: env.id, versions, runs: runs.map((r) => r.id) };
}
