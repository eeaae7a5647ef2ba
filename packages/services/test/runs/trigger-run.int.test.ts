import { randomBytes } from "node:crypto";
import { useTestDb } from "@loraplane/db/testing";
import { createPipelineQueue, stageJobId } from "@loraplane/queue";
import { afterAll, describe, expect, it } from "vitest";
import { ValidationError } from "../../src/errors.ts";
import { cancelRun, retryRun, triggerRun } from "../../src/runs/index.ts";
import { seedPipeline } from "./seed.ts";

const t = useTestDb("trigger");
const queue = createPipelineQueue({ connection: { host: "127.0.0.1", port: 6379 }, prefix: `lpq-trigger-${randomBytes(4).toString("hex")}` });
afterAll(async () => {
  await queue.stages.obliterate({ force: true });
  await queue.close();
});
const deps = () => ({ db: t.db, queue });

describe("triggerRun", () => {
  it("creates a queued run with its first stage and enqueues it", async () => {
    const s = await seedPipeline(t.db);
    const { run, created } = await triggerRun(deps(), { projectId: s.projectId, pipelineId: s.pipelineId, trigger: "api", requestedById: s.userId, gitCommit: "ABCDEF1234567" });
    expect(created).toBe(true);
    expect(run).toMatchObject({ number: 1, status: "queued" });
    const row = await t.db.pipelineRun.findUniqueOrThrow({ where: { id: run.id }, select: { resolvedSpec: true, gitCommit: true, datasetVersionId: true, stages: { select: { stage: true, attempt: true, status: true } } } });
    expect(row.gitCommit).toBe("abcdef1234567");
    expect(row.datasetVersionId).toBe(s.datasetVersionId);
    expect(row.resolvedSpec).toMatchObject({ training: { learningRate: 2e-4, maxSteps: 5 }, deploy: null });
    expect(row.stages).toEqual([{ stage: "prepare", attempt: 1, status: "queued" }]);
    expect(await queue.stages.getJob(stageJobId({ runId: run.id, stage: "prepare", attempt: 1 }))).toBeTruthy();
    const second = await triggerRun(deps(), { projectId: s.projectId, pipelineId: s.pipelineId, trigger: "ui" });
    expect(second.run.number).toBe(2);
  });

  it("100 concurrent triggers with one idempotency key create one run", async () => {
    const s = await seedPipeline(t.db);
    const results = await Promise.all(
      Array.from({ length: 100 }, () => triggerRun(deps(), { projectId: s.projectId, pipelineId: s.pipelineId, trigger: "api", idempotencyKey: "deploy-42" })),
    );
    expect(new Set(results.map((r) => r.run.id)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(await t.db.pipelineRun.count({ where: { pipelineId: s.pipelineId } })).toBe(1);
  });

  it.each([
    [{ training: { learningRate: -1 } }, "spec.training.learningRate"],
    [{ eval: { thresholds: [{ metric: "perplexity", value: 0.5 }] } }, "spec.eval.thresholds[0].metric"],
    [{ eval: { thresholds: [{ metric: "rouge_l", value: 2 }] } }, "spec.eval.thresholds[0].value"],
    [{ dataset: { name: "demo", version: "v9" } }, "spec.dataset.version"],
    [{ deploy: { endpointName: "chat", environments: ["nowhere"] } }, "spec.deploy.environments[0]"],
  ])("a bad spec %j is rejected at %s and nothing is created", async (patch, path) => {
    const base = { name: "demo", model: { name: "m", baseModel: "/m" }, dataset: { name: "demo", version: "v1" } };
    const s = await seedPipeline(t.db, { spec: { ...base, ...patch } });
    const error = await triggerRun(deps(), { projectId: s.projectId, pipelineId: s.pipelineId, trigger: "api" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).status).toBe(400);
    expect((error as ValidationError).issues.map((i) => i.path)).toContain(path);
    expect(await t.db.pipelineRun.count({ where: { pipelineId: s.pipelineId } })).toBe(0);
  });

  it("bad input fields and unknown pipelines are 4xx", async () => {
    const s = await seedPipeline(t.db);
    await expect(triggerRun(deps(), { projectId: s.projectId, pipelineId: s.pipelineId, trigger: "nope" as never })).rejects.toMatchObject({ status: 400, issues: [{ path: "trigger" }] });
    await expect(triggerRun(deps(), { projectId: s.projectId, pipelineId: "missing", trigger: "api" })).rejects.toMatchObject({ status: 404 });
    await expect(triggerRun(deps(), { projectId: s.projectId, pipelineId: s.pipelineId, trigger: "api", params: { "training.learningRate": -3 } })).rejects.toMatchObject({ status: 400 });
  });

  it("cancel then retry resumes at the stopped stage as a new attempt", async () => {
    const s = await seedPipeline(t.db);
    const actor = { type: "user" as const, userId: s.userId };
    const { run } = await triggerRun(deps(), { projectId: s.projectId, pipelineId: s.pipelineId, trigger: "api" });
    await t.db.pipelineRun.update({ where: { id: run.id }, data: { currentStage: "prepare" } });
    expect((await cancelRun(deps(), { runId: run.id, actor })).run.status).toBe("cancelled");
    await expect(cancelRun(deps(), { runId: run.id, actor })).rejects.toMatchObject({ status: 409 });
    const retried = await retryRun(deps(), { runId: run.id, actor });
    expect(retried).toMatchObject({ stage: "prepare", attempt: 2 });
    const row = await t.db.pipelineRun.findUniqueOrThrow({ where: { id: run.id }, select: { status: true, error: true } });
    expect(row).toEqual({ status: "queued", error: null });
    expect(await t.db.auditLog.count({ where: { subjectId: run.id } })).toBe(3);
  });
});
