import { randomBytes } from "node:crypto";
import { appendFileSync, readFileSync, realpathSync, symlinkSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { useTestDb } from "@loraplane/db/testing";
import { cancelRun, triggerRun } from "@loraplane/services";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TWorkerApp } from "../src/worker-app.ts";
import { makeDataDirs, seedProject, waitFor, startFakeWorker, stopFakeWorker } from "./helpers/fixtures.ts";

const t = useTestDb("engine");
const dirs = makeDataDirs();
const prefix = `lpq-engine-${randomBytes(4).toString("hex")}`;
let app: TWorkerApp;
const launches: string[] = [];

beforeAll(async () => {
  app = await startFakeWorker(t.db, dirs, prefix, { heartbeatTimeoutS: 3, onLaunch: (runId, stage, attempt) => launches.push(`${runId}/${stage}-${attempt}`) });
});
afterAll(async () => {
  await stopFakeWorker(app);
});

const deps = () => ({ db: t.db, queue: app.queue });
const finished = (runId: string, timeoutMs = 30_000) =>
  waitFor(async () => {
    const r = await t.db.pipelineRun.findUniqueOrThrow({ where: { id: runId }, select: { status: true, error: true, currentStage: true } });
    return ["succeeded", "failed", "blocked", "cancelled"].includes(r.status) ? r : null;
  }, timeoutMs, `run ${runId} to finish`);
const launchCount = (runId: string, stage: string, attempt = 1) =>
  readFileSync(path.join(dirs.workDir, "runs", runId, `${stage}-${attempt}`, "launches.log"), "utf8").trim().split("\n").length;

describe("pipeline engine on the local executor", () => {
  it("runs prepare → train → eval → gate → register with every metric, artifact and lineage in Postgres", async () => {
    const s = await seedProject(t.db, dirs);
    const hook = await t.db.webhookSubscription.create({ data: { projectId: s.projectId, url: "https://hooks.example/all", secretCiphertext: "v1:x", events: ["run.succeeded", "model_version.registered"] } });
    const { run } = await triggerRun(deps(), { projectId: s.projectId, pipelineId: s.pipelineId, trigger: "api", gitCommit: "0123456789abcdef0123456789abcdef01234567" });
    const done = await finished(run.id);
    expect(done).toMatchObject({ status: "succeeded", error: null });
    // Registration and success are announced once each, in the transactions that made them.
    const events = await t.db.webhookDelivery.findMany({ where: { subscriptionId: hook.id }, select: { event: true, payload: true }, orderBy: { createdAt: "asc" } });
    expect(events.map((e) => e.event)).toEqual(["model_version.registered", "run.succeeded"]);
    expect(events[0]!.payload).toMatchObject({ runId: run.id, version: 1, gitCommit: "0123456789abcdef0123456789abcdef01234567" });
    const stages = await t.db.stageRun.findMany({ where: { runId: run.id }, select: { stage: true, status: true, attempt: true, exitCode: true }, orderBy: { createdAt: "asc" } });
    const train = await t.db.stageRun.findFirstOrThrow({ where: { runId: run.id, stage: "train" }, select: { logsUri: true } });
    // The stage points at the workload's human-readable log, which the API tails.
    expect(readFileSync(fileURLToPath(train.logsUri!), "utf8")).toContain("[fake-workload] train for run");
    expect(stages.map((x) => `${x.stage}:${x.status}`)).toEqual(["prepare:succeeded", "train:succeeded", "eval:succeeded", "gate:succeeded", "register:succeeded"]);
    expect(stages.find((x) => x.stage === "train")?.exitCode).toBe(0);
    expect(launchCount(run.id, "train")).toBe(1);
    expect(launchCount(run.id, "eval")).toBe(1);

    const loss = await t.db.metricPoint.findMany({ where: { series: { runId: run.id, key: "train/loss" } }, select: { step: true, value: true }, orderBy: { step: "asc" } });
    expect(loss).toHaveLength(30);
    expect(loss[0]).toEqual({ step: 1, value: 2 });
    const evals = await t.db.evalResult.findMany({ where: { runId: run.id }, select: { metric: true, value: true, passed: true, threshold: true } });
    expect(evals).toContainEqual({ metric: "rouge_l", value: 0.75, passed: true, threshold: 0.5 });
    expect(await t.db.evalSample.count({ where: { runId: run.id } })).toBe(8);
    const kinds = (await t.db.artifact.findMany({ where: { runId: run.id }, select: { kind: true, sha256: true } })).map((a) => a.kind).sort();
    expect(kinds).toEqual(["adapter", "eval_report"]);

    const version = await t.db.modelVersion.findFirstOrThrow({ where: { runId: run.id }, select: { modelName: true, version: true, gitCommit: true, lineage: true, adapterArtifactId: true } });
    expect(version).toMatchObject({ modelName: "demo-model", version: 1, gitCommit: "0123456789abcdef0123456789abcdef01234567" });
    expect(version.adapterArtifactId).toBeTruthy();
    expect(version.lineage).toMatchObject({ dataset: { sha256: s.datasetSha256, version: "v1" }, spec: { training: { maxSteps: 30 } }, parentVersion: null });

    // A second run of the same model becomes version 2 with the first as its parent.
    const second = await triggerRun(deps(), { projectId: s.projectId, pipelineId: s.pipelineId, trigger: "api" });
    expect((await finished(second.run.id)).status).toBe("succeeded");
    const v2 = await t.db.modelVersion.findFirstOrThrow({ where: { runId: second.run.id }, select: { version: true, parentVersionId: true } });
    expect(v2.version).toBe(2);
    expect(v2.parentVersionId).toBeTruthy();
  });

  it("prepare fails naming both digests when the dataset files no longer match the registered sha256", async () => {
    const s = await seedProject(t.db, dirs);
    appendFileSync(path.join(s.datasetDir, "train.jsonl"), '{"instruction":"planted","output":"x"}\n');
    const { run } = await triggerRun(deps(), { projectId: s.projectId, pipelineId: s.pipelineId, trigger: "api" });
    const done = await finished(run.id);
    expect(done.status).toBe("failed");
    expect(done.error).toContain(`prepare failed: dataset demo@v1 does not match its registered digest: registered sha256 ${s.datasetSha256}, the files at`);
    expect(done.error).toMatch(/hash to [0-9a-f]{64}$/);
    expect(done.error).not.toContain(`hash to ${s.datasetSha256}`);
    expect(await t.db.stageRun.count({ where: { runId: run.id, stage: "train" } })).toBe(0);
  });

  it("prepare refuses a dataset URI that leaves the project's prefix through a symlink or ..", async () => {
    const a = await seedProject(t.db, dirs);
    const b = await seedProject(t.db, dirs);
    const prefix = path.join(dirs.workDir, "projects", a.projectId, "datasets");
    // Registration would refuse these URIs; rows written before the check existed (or by hand) meet prepare.
    const link = path.join(prefix, "stolen");
    symlinkSync(b.datasetDir, link);
    await t.db.datasetVersion.update({ where: { id: a.datasetVersionId }, data: { uri: pathToFileURL(link).href } });
    const viaLink = await triggerRun(deps(), { projectId: a.projectId, pipelineId: a.pipelineId, trigger: "api" });
    const linked = await finished(viaLink.run.id);
    expect(linked.status).toBe("failed");
    expect(linked.error).toContain(`resolves to ${realpathSync(b.datasetDir)}, outside the project's storage prefix`);

    await t.db.datasetVersion.update({ where: { id: a.datasetVersionId }, data: { uri: `file://${prefix}/../../${b.projectId}/datasets/demo/v1` } });
    const viaDots = await triggerRun(deps(), { projectId: a.projectId, pipelineId: a.pipelineId, trigger: "api" });
    const dotted = await finished(viaDots.run.id);
    expect(dotted.status).toBe("failed");
    expect(dotted.error).toContain("must not contain . or .. segments");
    expect(await t.db.stageRun.count({ where: { runId: { in: [viaLink.run.id, viaDots.run.id] }, stage: "train" } })).toBe(0);
  });

  it("stops at the gate with the reason when a threshold is too high", async () => {
    const s = await seedProject(t.db, dirs, { eval: { metrics: ["rouge_l", "exact_match"], thresholds: [{ metric: "rouge_l", comparator: ">=", value: 0.9 }] } });
    const hook = await t.db.webhookSubscription.create({ data: { projectId: s.projectId, url: "https://hooks.example/gate", secretCiphertext: "v1:x", events: ["run.blocked"] } });
    const { run } = await triggerRun(deps(), { projectId: s.projectId, pipelineId: s.pipelineId, trigger: "api" });
    const done = await finished(run.id);
    expect(done.status).toBe("blocked");
    expect(done.error).toBe("blocked by the evaluation gate: rouge_l = 0.75, needs >= 0.9 (blocking)");
    expect(await t.db.modelVersion.count({ where: { runId: run.id } })).toBe(0);
    // The gate failure is announced to webhooks (and chat) with the reason, queued with the status change.
    const delivery = await t.db.webhookDelivery.findFirstOrThrow({ where: { subscriptionId: hook.id }, select: { event: true, payload: true } });
    expect(delivery).toMatchObject({ event: "run.blocked", payload: { runId: run.id, status: "blocked", reason: done.error } });
  });

  it("a workload that exits non-zero fails the stage with the exit code and the last log lines", async () => {
    const s = await seedProject(t.db, dirs, { training: { maxSteps: 5, learningRate: 0.001 } });
    const { run } = await withMode("fail", () => triggerRun(deps(), { projectId: s.projectId, pipelineId: s.pipelineId, trigger: "api" }));
    const done = await finished(run.id);
    expect(done.status).toBe("failed");
    expect(done.error).toContain("train failed: workload exited with code 3 (invalid dataset)");
    expect(done.error).toContain("ValueError: dataset row 7 has no 'output' field");
  });

  it("a workload that stops heartbeating is killed and fails with the reason", async () => {
    const s = await seedProject(t.db, dirs);
    const { run } = await withMode("hang", () => triggerRun(deps(), { projectId: s.projectId, pipelineId: s.pipelineId, trigger: "api" }));
    const done = await finished(run.id);
    expect(done.status).toBe("failed");
    expect(done.error).toMatch(/no heartbeat for \d+s \(limit 3s\)/);
    expect(done.error).toContain("stuck before the first step");
  });

  it("a stage past its timeout is stopped and fails", async () => {
    const s = await seedProject(t.db, dirs, { timeouts: { trainSeconds: 2, evalSeconds: 60 } });
    const { run } = await withMode("slow", () => triggerRun(deps(), { projectId: s.projectId, pipelineId: s.pipelineId, trigger: "api" }));
    const done = await finished(run.id);
    expect(done.status).toBe("failed");
    expect(done.error).toContain("timed out after 2s (stage timeout)");
  });

  it("cancel stops the running workload and the run ends cancelled", async () => {
    const s = await seedProject(t.db, dirs);
    const { run } = await withMode("slow", () => triggerRun(deps(), { projectId: s.projectId, pipelineId: s.pipelineId, trigger: "api" }));
    await waitFor(() => t.db.stageRun.findFirst({ where: { runId: run.id, stage: "train", status: "running", externalId: { not: null } } }), 20_000, "train running");
    const pid = Number(await waitFor(async () => { try { return readFileSync(path.join(dirs.workDir, "runs", run.id, "train-1", "pid"), "utf8").trim(); } catch { return null; } }));
    await cancelRun(deps(), { runId: run.id, actor: { type: "user", userId: s.userId } });
    await waitFor(async () => (await t.db.stageRun.findFirst({ where: { runId: run.id, stage: "train" }, select: { status: true } }))?.status === "cancelled", 15_000, "train cancelled");
    expect((await finished(run.id)).status).toBe("cancelled");
    await waitFor(async () => { try { process.kill(pid, 0); return false; } catch { return true; } }, 10_000, "workload process gone");
  });

  it("Redis flushed mid-run: the reconciler resumes the run from Postgres", async () => {
    const s = await seedProject(t.db, dirs, { training: { maxSteps: 150 } });
    const { run } = await triggerRun(deps(), { projectId: s.projectId, pipelineId: s.pipelineId, trigger: "api" });
    await waitFor(() => t.db.stageRun.findFirst({ where: { runId: run.id, stage: "train", status: "running" } }), 20_000, "train running");
    const redis = new Redis("redis://127.0.0.1:6379");
    // Only this file's keys: other test files share the server.
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
    const done = await finished(run.id, 60_000);
    expect(done).toMatchObject({ status: "succeeded" });
    expect(launchCount(run.id, "train")).toBe(1);
    expect(await t.db.metricPoint.count({ where: { series: { runId: run.id, key: "train/loss" } } })).toBe(150);
  });
});

async function withMode<T>(mode: string, fn: () => Promise<T>): Promise<T> {
  process.env.FAKE_MODE = mode;
  try {
    const out = await fn();
    // The workload inherits the environment when it is launched, a moment after the trigger.
    await new Promise((r) => setTimeout(r, 1500));
    return out;
  } finally {
    delete process.env.FAKE_MODE;
  }
}
