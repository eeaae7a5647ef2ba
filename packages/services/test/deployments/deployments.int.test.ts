import { randomBytes } from "node:crypto";
import { emptyHistogram, recordValue } from "@loraplane/core";
import { upsertServingWindows, findDeploymentById } from "@loraplane/db";
import { seedDeployable, useTestDb } from "@loraplane/db/testing";
import { createPipelineQueue, runJobId } from "@loraplane/queue";
import { afterAll, describe, expect, it } from "vitest";
import {
  analyseDeployment,
  checkDeploymentApproval,
  getDeploymentMetrics,
  markNewVariantReady,
  pauseDeployment,
  promoteDeployment,
  resumeDeployment,
  rollbackDeployment,
  setDeploymentSplit,
  startDeployment,
} from "../../src/deployments/index.ts";

const t = useTestDb("deployments");
const queue = createPipelineQueue({ connection: { host: "127.0.0.1", port: 6379 }, prefix: `lpq-deploy-${randomBytes(4).toString("hex")}` });
afterAll(async () => {
  await queue.runs.obliterate({ force: true });
  await queue.close();
});
const deps = () => ({ db: t.db, queue });
const policy = { slo: { p99LatencyMs: 500, ttftP95Ms: 400, errorRate: 0.05 }, canary: { stepsBps: [5000, 10000], stepSeconds: 1, minRequests: 5 }, minRequestsForRollback: 5 };
const user = (id: string) => ({ type: "user" as const, userId: id });

/** Writes one gateway window for a variant: n requests at latencyMs, `errors` of them failed. */
async function traffic(deploymentId: string, variantId: string, n: number, latencyMs: number, errors = 0, at = new Date()) {
  const latencyHist = emptyHistogram();
  const ttftHist = emptyHistogram();
  for (let i = 0; i < n; i++) {
    recordValue(latencyHist, latencyMs);
    recordValue(ttftHist, latencyMs / 4);
  }
  await upsertServingWindows(t.db, [
    { deploymentId, variantId, gatewayId: "gw-test", windowStart: new Date(Math.floor(at.getTime() / 1000) * 1000), windowSeconds: 1, requests: n, errors, errors4xx: 0, errors5xx: errors, timeouts: 0, latencyHist, ttftHist, latencySumMs: n * latencyMs, outputTokens: n * 8, feedbackUp: 0, feedbackDown: 0 },
  ]);
}

async function load(id: string) {
  const d = await findDeploymentById(t.db, id);
  if (!d) throw new Error("missing");
  return d;
}

describe("deployment lifecycle", () => {
  it("first version: canary promoted when healthy; second with a latency breach rolled back; manual promote of a third", async () => {
    const s = await seedDeployable(t.db);
    const sub = await t.db.webhookSubscription.create({ data: { projectId: s.projectId, url: "http://127.0.0.1:19999/hook", secretCiphertext: "x", events: ["deployment.rolled_back"] }, select: { id: true } });
    const [v1, v2, v3] = s.versions;

    // v1: first version on the endpoint, no stable variant.
    const first = await startDeployment(deps(), { runId: v1!.runId, modelVersionId: v1!.id, environmentId: s.environmentId, endpointName: "qwen-zh", strategy: "canary", policy });
    expect(first.state).toBe("pending");
    expect(await startDeployment(deps(), { runId: v1!.runId, modelVersionId: v1!.id, environmentId: s.environmentId, endpointName: "qwen-zh", strategy: "canary", policy })).toEqual(first);
    await markNewVariantReady(deps(), { deploymentId: first.deploymentId, upstreamUrl: "http://127.0.0.1:19001", detail: "test" });
    let d = await load(first.deploymentId);
    expect(d.state).toBe("progressing");
    expect(d.variants.map((v) => [v.role, v.weightBps, v.status])).toEqual([["canary", 5000, "ready"]]);
    await traffic(d.id, d.variants[0]!.id, 3, 20);
    expect((await analyseDeployment(deps(), d, { now: new Date(Date.now() + 1500) })).decision.action).toBe("wait"); // 3 of 5 requests
    await traffic(d.id, d.variants[0]!.id, 10, 20, 0, new Date(Date.now() + 1000));
    expect((await analyseDeployment(deps(), d, { now: new Date(Date.now() + 1500) })).decision.action).toBe("promote");
    d = await load(first.deploymentId);
    expect(d.state).toBe("promoted");
    expect(d.variants[0]!.weightBps).toBe(10_000);
    expect(await t.db.modelVersion.findUniqueOrThrow({ where: { id: v1!.id }, select: { status: true } })).toEqual({ status: "staging" });
    expect(await queue.runs.getJob(runJobId({ runId: v1!.runId, reason: "deployment-promoted" }))).toBeTruthy();

    // v2: stable is v1; the canary is slow → automatic rollback in one routing change.
    const second = await startDeployment(deps(), { runId: v2!.runId, modelVersionId: v2!.id, environmentId: s.environmentId, endpointName: "qwen-zh", strategy: "canary", policy });
    d = await load(second.deploymentId);
    expect(d.variants.map((v) => [v.role, v.weightBps, v.servedModelName])).toEqual([["stable", 10000, "qwen-zh-v1"], ["canary", 0, "qwen-zh-v2"]]);
    await expect(startDeployment(deps(), { runId: v3!.runId, modelVersionId: v3!.id, environmentId: s.environmentId, endpointName: "qwen-zh" })).rejects.toMatchObject({ status: 409 });
    await markNewVariantReady(deps(), { deploymentId: d.id, upstreamUrl: "http://127.0.0.1:19002", detail: "test" });
    d = await load(d.id);
    const [stable, canary] = d.variants;
    await traffic(d.id, stable!.id, 30, 20);
    await traffic(d.id, canary!.id, 30, 900);
    const routingBefore = d.routingVersion;
    const out = await analyseDeployment(deps(), d);
    expect(out.decision.action).toBe("rollback");
    expect(out.decision.reason).toMatch(/p99_latency_ms/);
    d = await load(d.id);
    expect(d.state).toBe("rolled_back");
    expect(d.routingVersion).toBe(routingBefore + 1);
    expect(d.variants.map((v) => [v.role, v.weightBps, v.status])).toEqual([["stable", 10000, "ready"], ["canary", 0, "failed"]]);
    expect(await t.db.modelVersion.findUniqueOrThrow({ where: { id: v2!.id }, select: { status: true } })).toEqual({ status: "rolled_back" });
    const deliveries = await t.db.webhookDelivery.findMany({ where: { subscriptionId: sub.id }, select: { event: true, payload: true } });
    expect(deliveries).toHaveLength(1);
    expect(deliveries[0]).toMatchObject({ event: "deployment.rolled_back", payload: { deploymentId: d.id, automatic: true } });
    const events = await t.db.rolloutEvent.findMany({ where: { deploymentId: d.id }, select: { type: true, analysis: true }, orderBy: { createdAt: "asc" } });
    expect(events.map((e) => e.type)).toEqual(["created", "step", "rollback"]);
    expect(events[2]!.analysis).toMatchObject({ candidate: { requests: 30 } });
    expect(await t.db.auditLog.count({ where: { subjectId: d.id, action: "deployment.rollback.automatic" } })).toBe(1);
    const metrics = await getDeploymentMetrics(t.db, { deploymentId: d.id });
    const canaryMetrics = metrics.variants.find((v) => v.role === "canary")!;
    expect(canaryMetrics.summary.p99LatencyMs!).toBeGreaterThan(700);
    expect(canaryMetrics.series.length).toBeGreaterThan(0);

    // v3: manual split, pause/resume, promote. Stable is still v1 (v2 was rolled back).
    const third = await startDeployment(deps(), { runId: v3!.runId, modelVersionId: v3!.id, environmentId: s.environmentId, endpointName: "qwen-zh", policy });
    d = await load(third.deploymentId);
    expect(d.variants[0]!.servedModelName).toBe("qwen-zh-v1");
    await expect(setDeploymentSplit(deps(), { deploymentId: d.id, actor: user(s.userId), weights: { stable: 5000, canary: 5000 } })).rejects.toMatchObject({ status: 409 });
    await markNewVariantReady(deps(), { deploymentId: d.id, upstreamUrl: "http://127.0.0.1:19003", detail: "test" });
    await expect(setDeploymentSplit(deps(), { deploymentId: d.id, actor: user(s.userId), weights: { stable: 5000, canary: 4000 } })).rejects.toMatchObject({ status: 400, issues: [{ path: "weights" }] });
    await expect(setDeploymentSplit(deps(), { deploymentId: d.id, actor: user(s.userId), weights: { stable: 5000, green: 5000 } })).rejects.toMatchObject({ status: 400, issues: [{ path: "weights.green" }] });
    await expect(setDeploymentSplit(deps(), { deploymentId: d.id, actor: user(s.userId), weights: { stable: 7000, canary: 3000.5 } })).rejects.toMatchObject({ status: 400 });
    const split = await setDeploymentSplit(deps(), { deploymentId: d.id, actor: user(s.userId), weights: { stable: 7000, canary: 3000 } });
    expect(split.state).toBe("paused");
    await expect(pauseDeployment(deps(), { deploymentId: d.id, actor: user(s.userId) })).rejects.toMatchObject({ status: 409 });
    expect((await resumeDeployment(deps(), { deploymentId: d.id, actor: user(s.userId) })).state).toBe("progressing");
    expect((await pauseDeployment(deps(), { deploymentId: d.id, actor: user(s.userId) })).state).toBe("paused");
    const promoted = await promoteDeployment(deps(), { deploymentId: d.id, actor: user(s.userId), reason: "looks good" });
    expect(promoted.weights).toEqual({ stable: 0, canary: 10000 });
    await expect(rollbackDeployment(deps(), { deploymentId: d.id, actor: user(s.userId) })).rejects.toMatchObject({ status: 409 });
    expect((await load(first.deploymentId)).state).toBe("superseded");
    expect((await load(second.deploymentId)).state).toBe("superseded");
    const audits = await t.db.auditLog.findMany({ where: { subjectId: d.id }, select: { action: true, actorId: true }, orderBy: { id: "asc" } });
    expect(audits.filter((a) => a.actorId === s.userId).map((a) => a.action)).toEqual(["deployment.set_split", "deployment.resume", "deployment.pause", "deployment.promote"]);
    await expect(promoteDeployment(deps(), { deploymentId: "nope", actor: user(s.userId) })).rejects.toMatchObject({ status: 404 });
  });

  it("an environment that requires approval moves no traffic before approval", async () => {
    const s = await seedDeployable(t.db, { requiresApproval: true, tier: "prod" });
    const v = s.versions[0]!;
    const r = await startDeployment(deps(), { runId: v.runId, modelVersionId: v.id, environmentId: s.environmentId, endpointName: "chat" });
    expect(r.state).toBe("awaiting_approval");
    await markNewVariantReady(deps(), { deploymentId: r.deploymentId, upstreamUrl: "http://127.0.0.1:19004", detail: "test" });
    expect((await load(r.deploymentId)).variants[0]!.weightBps).toBe(0);
    expect(await checkDeploymentApproval(deps(), r.deploymentId)).toBe("awaiting_approval");
    await t.db.approvalRequest.updateMany({ where: { deploymentId: r.deploymentId }, data: { status: "approved", decidedAt: new Date() } });
    expect(await checkDeploymentApproval(deps(), r.deploymentId)).toBe("pending");
  });

  it("rejects bad input with the field", async () => {
    const s = await seedDeployable(t.db);
    const v = s.versions[0]!;
    await expect(startDeployment(deps(), { modelVersionId: v.id, environmentId: s.environmentId, endpointName: "Bad Name" })).rejects.toMatchObject({ status: 400, issues: [{ path: "endpointName" }] });
    await expect(startDeployment(deps(), { modelVersionId: v.id, environmentId: s.environmentId, endpointName: "ok", policy: { canary: { stepsBps: [500, 400] } } })).rejects.toMatchObject({ status: 400, issues: expect.arrayContaining([{ path: "policy.canary.stepsBps", message: "steps must increase" }]) });
    await expect(startDeployment(deps(), { modelVersionId: "missing", environmentId: s.environmentId, endpointName: "ok" })).rejects.toMatchObject({ status: 404 });
  });

  it("A/B: a fixed split, then b promoted on significantly better user feedback", async () => {
    const s = await seedDeployable(t.db);
    const [v1, v2] = s.versions;
    const first = await startDeployment(deps(), { runId: v1!.runId, modelVersionId: v1!.id, environmentId: s.environmentId, endpointName: "ab", policy });
    await markNewVariantReady(deps(), { deploymentId: first.deploymentId, upstreamUrl: "http://127.0.0.1:19005", detail: "test" });
    await promoteDeployment(deps(), { deploymentId: first.deploymentId, actor: user(s.userId) });
    const ab = await startDeployment(deps(), {
      runId: v2!.runId, modelVersionId: v2!.id, environmentId: s.environmentId, endpointName: "ab", strategy: "ab",
      policy: { ab: { splitBps: 3000, minSamplesPerVariant: 200, durationSeconds: 3600, autoDecide: true } },
    });
    await markNewVariantReady(deps(), { deploymentId: ab.deploymentId, upstreamUrl: "http://127.0.0.1:19006", detail: "test" });
    let d = await load(ab.deploymentId);
    expect(d.variants.map((v) => [v.role, v.weightBps])).toEqual([["a", 7000], ["b", 3000]]);
    const [a, b] = d.variants;
    await traffic(d.id, a!.id, 150, 40);
    await traffic(d.id, b!.id, 150, 40);
    expect((await analyseDeployment(deps(), d)).decision).toMatchObject({ action: "wait", reason: expect.stringMatching(/collecting samples/) });
    // Enough evidence for the always-valid (mSPRT, Holm over three metrics) test, which asks more than a one-look test.
    await t.db.servingWindow.updateMany({ where: { variantId: a!.id }, data: { feedbackUp: 100, feedbackDown: 100 } });
    await t.db.servingWindow.updateMany({ where: { variantId: b!.id }, data: { feedbackUp: 160, feedbackDown: 40 } });
    await traffic(d.id, a!.id, 60, 40, 0, new Date(Date.now() + 2000));
    await traffic(d.id, b!.id, 60, 40, 0, new Date(Date.now() + 2000));
    const out = await analyseDeployment(deps(), d);
    expect(out.decision.action).toBe("promote");
    expect(out.decision.reason).toMatch(/feedback Δ=0.3/);
    d = await load(ab.deploymentId);
    expect(d.state).toBe("promoted");
    const ev = await t.db.rolloutEvent.findFirst({ where: { deploymentId: d.id, type: "promote" }, select: { analysis: true } });
    expect(ev!.analysis).toMatchObject({ ab: { feedback: { significant: true } } });
  });

  it("a version that passed the gate narrowly gets a slower canary, recorded on the deployment", async () => {
    const s = await seedDeployable(t.db);
    const v = s.versions[0]!;
    await t.db.evalResult.create({ data: { runId: v.runId, metric: "rouge_l", value: 0.46, threshold: 0.45, comparator: ">=", blocking: true, passed: true } });
    const r = await startDeployment(deps(), { runId: v.runId, modelVersionId: v.id, environmentId: s.environmentId, endpointName: "narrow" });
    const d = await load(r.deploymentId);
    expect(d.policy).toMatchObject({ canary: { stepsBps: [100, 500, 2500, 5000, 10000], stepSeconds: 120, minRequests: 100 } });
    const ev = await t.db.rolloutEvent.findFirst({ where: { deploymentId: d.id, type: "policy" }, select: { reason: true } });
    expect(ev!.reason).toMatch(/narrow gate pass: rouge_l 0.46/);
  });
});
