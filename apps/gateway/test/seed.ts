// A project with an environment and a pipeline run that registered two model versions of one base model.
import type { Db } from "@loraplane/db";

export async function seedDeployable(db: Db, opts: { requiresApproval?: boolean; tier?: "dev" | "staging" | "prod" } = {}) {
  const label = Math.random().toString(36).slice(2, 8);
  const user = await db.user.create({ data: { email: `d-${label}@example.test`, role: "engineer" }, select: { id: true } });
  const project = await db.project.create({ data: { slug: `dp-${label}`, name: `Deploy ${label}` }, select: { id: true } });
  const pipeline = await db.pipeline.create({ data: { projectId: project.id, name: `p-${label}`, spec: {} }, select: { id: true } });
  const runs = await Promise.all(
    [1, 2, 3, 4].map((number) =>
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

/** Inserts an API token for `userId` and returns its secret (the table stores only the sha256). */
export async function seedToken(db: Db, userId: string, scopes: string[], projectId: string | null = null): Promise<string> {
  const { createHash, randomBytes } = await import("node:crypto");
  const secret = `lp_${randomBytes(24).toString("base64url")}`;
  await db.apiToken.create({ data: { name: "test", prefix: secret.slice(0, 8), secretHash: createHash("sha256").update(secret).digest("hex"), scopes, userId, projectId } });
  return secret;
}
