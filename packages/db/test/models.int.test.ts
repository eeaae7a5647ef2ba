// Creates and reads back every model of the domain through the generated client, on a migrated database.
import { describe, expect, it } from "vitest";
import { Prisma } from "../src/index.ts";
import { useTestDb } from "../src/testing/index.ts";

const t = useTestDb("models");

describe("domain model", () => {
  it("round-trips every model", async () => {
    const db = t.db;
    const user = await db.user.create({ data: { email: "ada@example.com", name: "Ada", role: "admin", passwordHash: "x" } });
    await db.account.create({ data: { userId: user.id, type: "oidc", provider: "keycloak", providerAccountId: "42" } });
    await db.session.create({ data: { userId: user.id, sessionToken: "s1", expires: new Date(Date.now() + 60_000) } });
    await db.verificationToken.create({ data: { identifier: "ada@example.com", token: "v1", expires: new Date() } });
    const project = await db.project.create({ data: { slug: "demo", name: "Demo" } });
    await db.projectMember.create({ data: { projectId: project.id, userId: user.id, role: "approver" } });
    await db.apiToken.create({
      data: { name: "ci", prefix: "lp_abc", secretHash: "h1", scopes: ["runs:write"], userId: user.id, projectId: project.id },
    });
    const dataset = await db.dataset.create({ data: { projectId: project.id, name: "demo-tasks" } });
    const dsv = await db.datasetVersion.create({
      data: {
        datasetId: dataset.id, version: "v1", uri: "file:///data/v1", sha256: "a".repeat(64), rowCount: 10,
        format: "alpaca", splits: { train: { rows: 8 }, test: { rows: 2 } },
      },
    });
    const pipeline = await db.pipeline.create({ data: { projectId: project.id, name: "p", spec: { name: "p" }, gitBranches: ["main"] } });
    const sweep = await db.sweep.create({
      data: { projectId: project.id, pipelineId: pipeline.id, spec: {}, objectiveMetric: "rouge_l", direction: "max" },
    });
    const run = await db.pipelineRun.create({
      data: {
        projectId: project.id, pipelineId: pipeline.id, number: 1, trigger: "api", specVersion: 1, resolvedSpec: {},
        datasetVersionId: dsv.id, sweepId: sweep.id, idempotencyKey: "k1", requestedById: user.id, gitCommit: "abc123",
      },
    });
    const stage = await db.stageRun.create({ data: { runId: run.id, stage: "train", executor: "local", externalId: "pid:1" } });
    await db.runToken.create({ data: { runId: run.id, stage: "train", secretHash: "rt1", expiresAt: new Date(Date.now() + 60_000) } });
    const series = await db.metricSeries.create({ data: { runId: run.id, key: "train/loss" } });
    await db.metricPoint.createMany({
      data: [0, 1, 2].map((step) => ({ seriesId: series.id, step, value: 3 - step, wallTime: new Date() })),
    });
    const artifact = await db.artifact.create({
      data: { runId: run.id, stageRunId: stage.id, kind: "adapter", uri: "file:///a", sha256: "b".repeat(64), sizeBytes: 10n },
    });
    await db.evalResult.create({ data: { runId: run.id, metric: "rouge_l", value: 0.5, threshold: 0.45, comparator: ">=", passed: true } });
    await db.evalSample.create({
      data: { runId: run.id, index: 0, prompt: "p", reference: "r", prediction: "r", scores: { exact_match: 1 }, review: "good", reviewedById: user.id },
    });
    const version = await db.modelVersion.create({
      data: {
        projectId: project.id, modelName: "demo", version: 1, runId: run.id, adapterArtifactId: artifact.id,
        baseModel: "/models/tiny", gitCommit: "abc123", datasetVersionId: dsv.id, lineage: { runId: run.id },
      },
    });
    await db.modelAlias.create({ data: { projectId: project.id, modelName: "demo", alias: "champion", modelVersionId: version.id } });
    const env = await db.environment.create({
      data: { projectId: project.id, name: "prod", tier: "prod", namespace: "prod", requiresApproval: true },
    });
    const deployment = await db.deployment.create({
      data: { projectId: project.id, environmentId: env.id, endpointName: "demo", strategy: "canary", policy: { steps: [500] } },
    });
    const variant = await db.deploymentVariant.create({
      data: {
        deploymentId: deployment.id, modelVersionId: version.id, role: "canary", weightBps: 500,
        upstreamUrl: "http://127.0.0.1:8000", servedModelName: "demo-v1",
      },
    });
    await db.rolloutEvent.create({ data: { deploymentId: deployment.id, type: "step", step: 0, reason: "start" } });
    await db.servingWindow.create({
      data: {
        deploymentId: deployment.id, variantId: variant.id, gatewayId: "gw1", windowStart: new Date(), windowSeconds: 5,
        requests: 10, errors: 1, latencyHist: [1, 2, 3], ttftHist: [3, 2, 1],
      },
    });
    await db.servingInstance.create({ data: { environmentId: env.id, baseModel: "/models/tiny", kind: "local", url: "http://x" } });
    await db.approvalRequest.create({
      data: {
        projectId: project.id, environmentId: env.id, subjectType: "deployment", subjectId: deployment.id,
        deploymentId: deployment.id, summary: "release demo v1", requestedById: user.id,
      },
    });
    await db.auditLog.create({ data: { projectId: project.id, actorType: "user", actorId: user.id, action: "run.trigger", subjectType: "run", subjectId: run.id } });
    const sub = await db.webhookSubscription.create({
      data: { projectId: project.id, url: "http://127.0.0.1:9/hook", secretCiphertext: "c", events: ["run.finished"] },
    });
    await db.webhookDelivery.create({ data: { subscriptionId: sub.id, event: "run.finished", eventId: "e1", payload: {} } });
    await db.inboundWebhook.create({ data: { projectId: project.id, provider: "gitlab", secretCiphertext: "c" } });

    const full = await db.pipelineRun.findUniqueOrThrow({
      where: { id: run.id },
      select: {
        stages: { select: { stage: true } },
        metricSeries: { select: { key: true, points: { select: { step: true, value: true }, orderBy: { step: "asc" } } } },
        artifacts: { select: { kind: true, sizeBytes: true } },
        evalResults: { select: { metric: true, passed: true } },
        evalSamples: { select: { review: true } },
        modelVersions: {
          select: {
            aliases: { select: { alias: true } },
            variants: { select: { weightBps: true, deployment: { select: { events: { select: { type: true } }, approvals: { select: { status: true } } } } } },
          },
        },
      },
    });
    expect(full.stages).toEqual([{ stage: "train" }]);
    expect(full.metricSeries[0]!.points.map((p) => p.value)).toEqual([3, 2, 1]);
    expect(full.artifacts).toEqual([{ kind: "adapter", sizeBytes: 10n }]);
    expect(full.evalResults).toEqual([{ metric: "rouge_l", passed: true }]);
    expect(full.evalSamples).toEqual([{ review: "good" }]);
    expect(full.modelVersions[0]!.aliases).toEqual([{ alias: "champion" }]);
    expect(full.modelVersions[0]!.variants[0]!.deployment.events).toEqual([{ type: "step" }]);
    expect(full.modelVersions[0]!.variants[0]!.deployment.approvals).toEqual([{ status: "pending" }]);

    const counts = await Promise.all([
      db.account.count(), db.session.count(), db.verificationToken.count(), db.projectMember.count(), db.apiToken.count(),
      db.sweep.count(), db.runToken.count(), db.servingWindow.count(), db.servingInstance.count(), db.auditLog.count(),
      db.webhookDelivery.count(), db.inboundWebhook.count(),
    ]);
    expect(counts.every((n) => n === 1)).toBe(true);
  });

  it("enforces the uniqueness the domain relies on", async () => {
    const db = t.db;
    const project = await db.project.create({ data: { slug: "uniq", name: "U" } });
    const pipeline = await db.pipeline.create({ data: { projectId: project.id, name: "p", spec: {} } });
    const base = { projectId: project.id, pipelineId: pipeline.id, trigger: "api" as const, specVersion: 1, resolvedSpec: {} };
    await db.pipelineRun.create({ data: { ...base, number: 1, idempotencyKey: "same" } });
    const duplicate = db.pipelineRun.create({ data: { ...base, number: 2, idempotencyKey: "same" } });
    await expect(duplicate).rejects.toBeInstanceOf(Prisma.PrismaClientKnownRequestError);
    await expect(duplicate).rejects.toMatchObject({ code: "P2002" });
  });
});
