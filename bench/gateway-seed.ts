// Rows for gateway benchmarks: a project, a user with an inference token, an environment and model versions.
import { createHash, randomBytes } from "node:crypto";
import type { Db } from "@loraplane/db";
import { createBenchRuns } from "./bench-db.ts";

export async function seedGatewayBench(db: Db, versions: number) {
  const user = await db.user.create({ data: { email: `bench-${randomBytes(3).toString("hex")}@example.test`, role: "engineer" }, select: { id: true } });
  const { projectId, runIds } = await createBenchRuns(db, versions);
  await db.projectMember.create({ data: { projectId, userId: user.id, role: "engineer" } });
  const env = await db.environment.create({ data: { projectId, name: "bench", tier: "staging", namespace: "bench" }, select: { id: true } });
  const out: { id: string; runId: string }[] = [];
  for (const [i, runId] of runIds.entries()) {
    out.push(await db.modelVersion.create({ data: { projectId, modelName: "bench", version: i + 1, runId, baseModel: "/models/bench", lineage: {} }, select: { id: true, runId: true } }));
  }
  const secret = `lp_${randomBytes(24).toString("base64url")}`;
  await db.apiToken.create({ data: { name: "bench", prefix: secret.slice(0, 8), secretHash: createHash("sha256").update(secret).digest("hex"), scopes: ["inference:invoke"], userId: user.id } });
  return { projectId, environmentId: env.id, versions: out, token: secret };
}

/** One live endpoint with a single variant at 100% on `upstreamUrl`: what the proxy benchmarks route through. */
export async function seedSingleVariantEndpoint(db: Db, endpointName: string, upstreamUrl: string) {
  const seed = await seedGatewayBench(db, 1);
  await db.deployment.create({
    data: {
      projectId: seed.projectId, environmentId: seed.environmentId, endpointName, strategy: "canary", state: "promoted", policy: {},
      variants: { create: [{ modelVersionId: seed.versions[0]!.id, role: "canary", weightBps: 10_000, upstreamUrl, servedModelName: `${endpointName}-v1`, status: "ready" }] },
    },
  });
  return seed;
}
