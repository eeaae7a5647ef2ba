// Test helpers: environment for the server context, a fixture project with one object of every kind, and callers.
import { randomUUID } from "node:crypto";
import type { Db } from "@loraplane/db";
import { API_SCOPES, createApiToken, type TRole } from "@loraplane/services";
import { encode } from "next-auth/jwt";

export const BASE = "http://127.0.0.1:3100";
export const SECRET = "test-nextauth-secret-0123456789abcdef";

export function configureEnv(databaseUrl: string) {
  process.env.DATABASE_URL = databaseUrl;
  process.env.NEXTAUTH_SECRET = SECRET;
  process.env.NEXTAUTH_URL = BASE;
  process.env.LORAPLANE_SECRET_KEY = "test-secret-key-0123456789abcdef0123";
  process.env.QUEUE_PREFIX = `test-web-${randomUUID().slice(0, 8)}`;
  process.env.LOG_LEVEL = process.env.TEST_LOG_LEVEL ?? "silent";
  process.env.LORAPLANE_DATA_DIR = "/tmp/loraplane-web-test";
}

const system = { type: "system" as const, userId: null };

export async function makeUser(db: Db, email: string, role: TRole = "viewer") {
  return db.user.create({ data: { email, role }, select: { id: true } });
}

export async function tokenFor(db: Db, userId: string, scopes: readonly string[] = API_SCOPES, projectId: string | null = null) {
  const { secret, token } = await createApiToken(db, { name: "t", userId, scopes: scopes as (typeof API_SCOPES)[number][], projectId }, system);
  return { secret, id: token.id };
}

export async function sessionCookie(userId: string, authTime = Math.floor(Date.now() / 1000)) {
  const token = await encode({ token: { sub: userId, authTime }, secret: SECRET, maxAge: 3600 });
  return `next-auth.session-token=${token}`;
}

/** A project with one object of every kind the API addresses by id. */
export async function makeProject(db: Db, slug: string) {
  const project = await db.project.create({ data: { slug, name: slug }, select: { id: true } });
  const dataset = await db.dataset.create({ data: { projectId: project.id, name: "ds" }, select: { id: true } });
  const dv = await db.datasetVersion.create({
    data: { datasetId: dataset.id, version: "v1", uri: "file:///data/ds.jsonl", sha256: "a".repeat(64), rowCount: 10, format: "alpaca", splits: {} },
    select: { id: true },
  });
  const spec = { name: `pipe-${slug}`, model: { name: "m", baseModel: "/models/tiny" }, dataset: { name: "ds", version: "v1" } };
  const pipeline = await db.pipeline.create({ data: { projectId: project.id, name: spec.name, spec, gitBranches: ["main"] }, select: { id: true } });
  const run = await db.pipelineRun.create({
    data: { projectId: project.id, pipelineId: pipeline.id, number: 1, trigger: "api", specVersion: 1, resolvedSpec: spec, datasetVersionId: dv.id, status: "succeeded" },
    select: { id: true },
  });
  const artifact = await db.artifact.create({ data: { runId: run.id, kind: "adapter", uri: "file:///nowhere/adapter" }, select: { id: true } });
  await db.evalSample.create({ data: { runId: run.id, index: 0, prompt: "p", reference: "r", prediction: "r", scores: {} } });
  const mv = await db.modelVersion.create({
    data: { projectId: project.id, modelName: "m", version: 1, runId: run.id, baseModel: "/models/tiny", lineage: {} },
    select: { id: true },
  });
  const env = await db.environment.create({ data: { projectId: project.id, name: "prod", tier: "prod", namespace: "prod", requiresApproval: true }, select: { id: true } });
  const deployment = await db.deployment.create({
    data: { projectId: project.id, environmentId: env.id, endpointName: "chat", strategy: "canary", state: "progressing", policy: {} },
    select: { id: true },
  });
  const approval = await db.approvalRequest.create({
    data: { projectId: project.id, environmentId: env.id, subjectType: "deployment", subjectId: deployment.id, deploymentId: deployment.id, summary: "release" },
    select: { id: true },
  });
  const release = await db.release.create({
    data: { projectId: project.id, runId: run.id, modelVersionId: mv.id, endpointName: "chat", stages: { create: [{ environmentId: env.id, position: 0, policy: {} }] } },
    select: { id: true },
  });
  const webhook = await db.webhookSubscription.create({ data: { projectId: project.id, url: "http://127.0.0.1:9/x", secretCiphertext: "v1:x", events: ["run.succeeded"] }, select: { id: true } });
  const sweep = await db.sweep.create({ data: { projectId: project.id, pipelineId: pipeline.id, spec: { grid: { "training.learningRate": [1e-4] } }, objectiveMetric: "rouge_l", direction: "max", points: [{ "training.learningRate": 1e-4 }], status: "completed" }, select: { id: true } });
  const delivery = await db.webhookDelivery.create({ data: { subscriptionId: webhook.id, event: "run.succeeded", eventId: "run.succeeded.fixture", payload: {}, status: "failed" }, select: { id: true } });
  return { projectId: project.id, datasetId: dataset.id, pipelineId: pipeline.id, runId: run.id, artifactId: artifact.id, modelVersionId: mv.id, environmentId: env.id, deploymentId: deployment.id, approvalId: approval.id, webhookId: webhook.id, webhookDeliveryId: delivery.id, releaseId: release.id, sweepId: sweep.id };
}

export type TFixture = Awaited<ReturnType<typeof makeProject>>;

export function call(handler: (req: Request) => Promise<Response>, method: string, path: string, options: { headers?: Record<string, string>; body?: unknown } = {}) {
  return handler(
    new Request(BASE + path, {
      method: method.toUpperCase(),
      headers: { "content-type": "application/json", ...options.headers },
      body: options.body === undefined || method === "get" ? undefined : JSON.stringify(options.body),
    }),
  );
}
