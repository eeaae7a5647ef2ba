// Releases across dev → staging → prod against real Postgres: each stage's deployment is driven the way the rollout
// controller drives it (backend ready, gateway windows, analysis), and the release controller's pass follows.
import { randomBytes } from "node:crypto";
import { emptyHistogram, NO_HEALTHY_VERSION, recordValue, resolveSpec, type TPipelineSpec } from "@loraplane/core";
import { findDeploymentById, findServingVariantForEndpoint, upsertServingWindows, type Db } from "@loraplane/db";
import { useTestDb } from "@loraplane/db/testing";
import { createPipelineQueue } from "@loraplane/queue";
import { afterAll, describe, expect, it } from "vitest";
import { analyseDeployment, markNewVariantReady, startDeployment } from "../../src/deployments/index.ts";
import { decideApproval } from "../../src/approvals/index.ts";
import { createPipeline, updatePipeline } from "../../src/pipelines/index.ts";
import { triggerRun } from "../../src/runs/index.ts";
import { parsePushEvent } from "../../src/webhooks/index.ts";
import {
  advanceRelease,
  createReleaseForRun,
  decideReleaseStage,
  freezeEnvironment,
  promoteRelease,
  releaseView,
  rollbackReleaseStage,
  unfreezeEnvironment,
} from "../../src/releases/index.ts";

const t = useTestDb("releases");
const queue = createPipelineQueue({ connection: { host: "127.0.0.1", port: 6379 }, prefix: `lpq-rel-${randomBytes(4).toString("hex")}` });
afterAll(async () => {
  await queue.runs.obliterate({ force: true });
  await queue.stages.obliterate({ force: true });
  await queue.close();
});
const deps = () => ({ db: t.db, queue });
const as = (userId: string) => ({ type: "user" as const, userId });
const ENDPOINT = "assistant";

function specFor(over: Record<string, unknown> = {}): TPipelineSpec {
  const r = resolveSpec({
    name: "rel",
    model: { name: "rel-model", baseModel: "/models/tiny" },
    dataset: { name: "demo", version: "v1" },
    eval: { metrics: ["rouge_l"], thresholds: [{ metric: "rouge_l", value: 0.1 }] },
    deploy: {
      endpointName: ENDPOINT,
      environments: ["dev", "staging", "prod"],
      canary: { steps: [10_000], analysisWindowSeconds: 1, minRequests: 5 },
      slo: { p99LatencyMs: 500, ttftP95Ms: 400, maxErrorRate: 0.05 },
      stages: { staging: { soakSeconds: 1, slo: { minRequests: 5 } } },
    },
    ...over,
  });
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.spec;
}

async function seed(db: Db) {
  const label = randomBytes(3).toString("hex");
  const mk = (name: string, role: "engineer" | "approver" | "admin") => db.user.create({ data: { email: `${name}-${label}@example.test`, role }, select: { id: true, email: true } });
  const requester = await mk("req", "approver");
  const approver = await mk("appr", "approver");
  const engineer = await mk("eng", "engineer");
  const admin = await mk("admin", "admin");
  const project = await db.project.create({ data: { slug: `rel-${label}`, name: `Rel ${label}` }, select: { id: true } });
  for (const [u, role] of [[requester, "approver"], [approver, "approver"], [engineer, "engineer"], [admin, "admin"]] as const) {
    await db.projectMember.create({ data: { projectId: project.id, userId: u.id, role } });
  }
  const envs: Record<string, string> = {};
  for (const tier of ["dev", "staging", "prod"] as const) {
    envs[tier] = (await db.environment.create({ data: { projectId: project.id, name: tier, tier, namespace: tier }, select: { id: true } })).id;
  }
  const pipeline = await db.pipeline.create({ data: { projectId: project.id, name: `p-${label}`, spec: {} }, select: { id: true } });
  let n = 0;
  async function version() {
    n += 1;
    const run = await db.pipelineRun.create({ data: { projectId: project.id, pipelineId: pipeline.id, number: n, trigger: "api", specVersion: 1, resolvedSpec: {}, requestedById: requester.id }, select: { id: true, projectId: true, requestedById: true } });
    const v = await db.modelVersion.create({ data: { projectId: project.id, modelName: "rel-model", version: n, runId: run.id, baseModel: "/models/tiny", lineage: {} }, select: { id: true } });
    return { run, modelVersionId: v.id };
  }
  const environments = await db.environment.findMany({ where: { projectId: project.id }, select: { id: true, name: true, tier: true, requiresApproval: true } });
  return { requester, approver, engineer, admin, projectId: project.id, envs, environments, version };
}

/** Writes gateway windows for the deployment's new variant: n requests at latencyMs. */
async function traffic(deploymentId: string, n: number, latencyMs: number, at = new Date()) {
  const d = (await findDeploymentById(t.db, deploymentId))!;
  const v = d.variants.find((x) => x.role === "canary" || x.role === "green" || x.role === "b")!;
  const latencyHist = emptyHistogram();
  const ttftHist = emptyHistogram();
  for (let i = 0; i < n; i++) {
    recordValue(latencyHist, latencyMs);
    recordValue(ttftHist, latencyMs / 4);
  }
  await upsertServingWindows(t.db, [
    { deploymentId, variantId: v.id, gatewayId: `gw-${randomBytes(2).toString("hex")}`, windowStart: new Date(Math.floor(at.getTime() / 1000) * 1000), windowSeconds: 1, requests: n, errors: 0, errors4xx: 0, errors5xx: 0, timeouts: 0, latencyHist, ttftHist, latencySumMs: n * latencyMs, outputTokens: n, feedbackUp: 0, feedbackDown: 0 },
  ]);
}

/** What the rollout controller does with a canary: backend up, traffic, analysis after the step window. */
async function drive(deploymentId: string, latencyMs = 20) {
  await markNewVariantReady(deps(), { deploymentId, upstreamUrl: "http://127.0.0.1:1", detail: "test" });
  await traffic(deploymentId, 30, latencyMs);
  const d = (await findDeploymentById(t.db, deploymentId))!;
  return (await analyseDeployment(deps(), d, { now: new Date(Date.now() + 1_500) })).decision.action;
}

async function releaseOf(s: Awaited<ReturnType<typeof seed>>, spec = specFor()) {
  const { run, modelVersionId } = await s.version();
  const first = await startDeployment(deps(), { runId: run.id, modelVersionId, environmentId: s.envs.dev!, endpointName: ENDPOINT, strategy: "canary", policy: { canary: { stepsBps: [10_000], stepSeconds: 1, minRequests: 5 }, slo: { p99LatencyMs: 500, ttftP95Ms: 400, errorRate: 0.05 } } });
  const release = await createReleaseForRun(deps(), { run, modelVersionId, spec, firstDeploymentId: first.deploymentId, environments: s.environments });
  return { release, modelVersionId, runId: run.id };
}

const stageOf = (r: { stages: { environment: { name: string }; state: string; reason: string | null; deploymentId: string | null }[] }, env: string) => r.stages.find((s) => s.environment.name === env)!;

describe("a release dev → staging → prod", () => {
  it("dev promotes automatically, staging soaks, prod waits for an approval the requester may not give, then goes live", async () => {
    const s = await seed(t.db);
    const sub = await t.db.webhookSubscription.create({ data: { projectId: s.projectId, url: "http://127.0.0.1:9/h", secretCiphertext: "x", events: ["release.stage_started", "release.awaiting_approval", "release.promoted", "release.rolled_back"] }, select: { id: true } });
    const { release } = await releaseOf(s);
    expect(release.stages.map((x) => [x.environment.name, x.state])).toEqual([["dev", "rolling_out"], ["staging", "pending"], ["prod", "pending"]]);
    expect(await createReleaseForRun(deps(), { run: release.run! as never, modelVersionId: release.modelVersionId, spec: specFor(), firstDeploymentId: stageOf(release, "dev").deploymentId!, environments: s.environments })).toMatchObject({ id: release.id });

    expect(await drive(stageOf(release, "dev").deploymentId!)).toBe("promote");
    let r = await advanceRelease(deps(), release.id);
    expect(r.stages.map((x) => x.state)).toEqual(["promoted", "rolling_out", "pending"]);
    expect(await drive(stageOf(r, "staging").deploymentId!)).toBe("promote");
    r = await advanceRelease(deps(), release.id);
    expect(stageOf(r, "staging").state).toBe("soaking");
    // The soak's SLOs must hold before prod may start.
    await expect(promoteRelease(deps(), { releaseId: release.id, actor: as(s.engineer.id) })).rejects.toMatchObject({ status: 409, message: expect.stringMatching(/staging is soaking/) });
    await traffic(stageOf(r, "staging").deploymentId!, 10, 20, new Date(Date.now() + 500));
    r = await advanceRelease(deps(), release.id, new Date(Date.now() + 2_000));
    expect(r.stages.map((x) => x.state)).toEqual(["promoted", "promoted", "awaiting_approval"]);

    const view = await releaseView(t.db ? { db: t.db } : deps(), r);
    const prodView = view.stages.find((x) => x.environment.name === "prod")!;
    expect(prodView.approvals).toMatchObject({ required: 1, received: 0 });
    expect(prodView.approvals.eligibleApprovers.map((u) => u.userId).sort()).toEqual([s.approver.id, s.admin.id].sort());
    expect(prodView.environment.inferenceUrl).toMatch(/\/rel-[0-9a-f]+\/prod\/v1$/);

    await expect(decideReleaseStage(deps(), { releaseId: release.id, environment: "prod", decision: "approved", actor: as(s.requester.id) })).rejects.toMatchObject({
      status: 403,
      message: expect.stringMatching(/separation of duties: you requested this run/),
    });
    await expect(decideReleaseStage(deps(), { releaseId: release.id, environment: "prod", decision: "approved", actor: as(s.engineer.id) })).rejects.toMatchObject({ status: 403, message: expect.stringMatching(/approver role/) });
    r = await decideReleaseStage(deps(), { releaseId: release.id, environment: "prod", decision: "approved", comment: "SLOs look fine", actor: as(s.approver.id) });
    expect(stageOf(r, "prod").state).toBe("rolling_out");
    expect(await drive(stageOf(r, "prod").deploymentId!)).toBe("promote");
    r = await advanceRelease(deps(), release.id);
    expect(r.state).toBe("succeeded");
    expect(r.stages.map((x) => x.state)).toEqual(["promoted", "promoted", "promoted"]);

    const events = (await t.db.webhookDelivery.findMany({ where: { subscriptionId: sub.id }, select: { event: true, payload: true }, orderBy: { createdAt: "asc" } })).map((d) => `${d.event}:${(d.payload as { environment: string }).environment}`);
    expect(events).toEqual([
      "release.stage_started:dev",
      "release.promoted:dev",
      "release.stage_started:staging",
      "release.promoted:staging",
      "release.awaiting_approval:prod",
      "release.stage_started:prod",
      "release.promoted:prod",
    ]);
    const audits = await t.db.auditLog.findMany({ where: { subjectId: release.id }, select: { action: true, actorId: true } });
    expect(audits).toContainEqual({ action: "release.approve", actorId: s.approver.id });
  });

  it("a frozen prod blocks the start (rollbacks still work); a latency breach in prod returns prod to its previous version while staging keeps the new one", async () => {
    const s = await seed(t.db);
    // v1 live everywhere.
    const one = await releaseOf(s, specFor({ deploy: { endpointName: ENDPOINT, environments: ["dev", "staging", "prod"], canary: { steps: [10_000], analysisWindowSeconds: 1, minRequests: 5 }, slo: { p99LatencyMs: 500, ttftP95Ms: 400, maxErrorRate: 0.05 }, stages: { staging: { soakSeconds: 0 } } } }));
    await drive(stageOf(one.release, "dev").deploymentId!);
    let r = await advanceRelease(deps(), one.release.id);
    await drive(stageOf(r, "staging").deploymentId!);
    r = await advanceRelease(deps(), one.release.id);
    r = await decideReleaseStage(deps(), { releaseId: r.id, environment: "prod", decision: "approved", actor: as(s.approver.id) });
    await drive(stageOf(r, "prod").deploymentId!);
    expect((await advanceRelease(deps(), one.release.id)).state).toBe("succeeded");

    await expect(freezeEnvironment(deps(), { environmentId: s.envs.prod!, reason: " ", actor: as(s.admin.id) })).rejects.toMatchObject({ status: 400, issues: [{ path: "reason" }] });
    await freezeEnvironment(deps(), { environmentId: s.envs.prod!, reason: "end-of-year freeze", actor: as(s.admin.id) });
    expect(await t.db.auditLog.count({ where: { subjectId: s.envs.prod!, action: "environment.freeze", actorId: s.admin.id } })).toBe(1);

    const two = await releaseOf(s, specFor({ deploy: { endpointName: ENDPOINT, environments: ["dev", "staging", "prod"], canary: { steps: [10_000], analysisWindowSeconds: 1, minRequests: 5 }, slo: { p99LatencyMs: 500, ttftP95Ms: 400, maxErrorRate: 0.05 }, stages: { staging: { soakSeconds: 0 } } } }));
    await drive(stageOf(two.release, "dev").deploymentId!);
    r = await advanceRelease(deps(), two.release.id);
    await drive(stageOf(r, "staging").deploymentId!);
    r = await advanceRelease(deps(), two.release.id);
    expect(stageOf(r, "prod")).toMatchObject({ state: "blocked", reason: "environment prod is frozen: end-of-year freeze" });
    await expect(promoteRelease(deps(), { releaseId: r.id, environment: "prod", actor: as(s.engineer.id) })).rejects.toMatchObject({ status: 409, message: expect.stringMatching(/frozen/) });
    // A direct deployment into the frozen environment is refused as well.
    await expect(startDeployment(deps(), { modelVersionId: two.modelVersionId, environmentId: s.envs.prod!, endpointName: "other" })).rejects.toMatchObject({ status: 409 });

    await unfreezeEnvironment(deps(), { environmentId: s.envs.prod!, actor: as(s.admin.id) });
    r = await advanceRelease(deps(), two.release.id);
    expect(stageOf(r, "prod").state).toBe("awaiting_approval");
    r = await decideReleaseStage(deps(), { releaseId: r.id, environment: "prod", decision: "approved", actor: as(s.admin.id) });
    expect(await drive(stageOf(r, "prod").deploymentId!, 2_000)).toBe("rollback");
    r = await advanceRelease(deps(), two.release.id);
    expect(r.state).toBe("failed");
    expect(stageOf(r, "prod").state).toBe("rolled_back");
    expect(stageOf(r, "staging").state).toBe("promoted");
    expect((await findServingVariantForEndpoint(t.db, s.envs.prod!, ENDPOINT))!.modelVersionId).toBe(one.modelVersionId);
    expect((await findServingVariantForEndpoint(t.db, s.envs.staging!, ENDPOINT))!.modelVersionId).toBe(two.modelVersionId);

    // Staging is frozen now; rolling it back to its last known good (v1) still works, and only staging changes.
    await freezeEnvironment(deps(), { environmentId: s.envs.staging!, reason: "incident", actor: as(s.admin.id) });
    await expect(rollbackReleaseStage(deps(), { releaseId: r.id, environment: "nowhere", actor: as(s.engineer.id) })).rejects.toMatchObject({ status: 404 });
    r = await rollbackReleaseStage(deps(), { releaseId: r.id, environment: "staging", reason: "bad answers", actor: as(s.engineer.id) });
    expect(stageOf(r, "staging")).toMatchObject({ state: "rolled_back", reason: expect.stringMatching(/last known good.*bad answers/) });
    const restore = await t.db.deployment.findFirst({ where: { environmentId: s.envs.staging!, strategy: "blue_green" }, select: { id: true, state: true, variants: { select: { role: true, modelVersionId: true, weightBps: true } } } });
    expect(restore).toMatchObject({ state: "pending" });
    expect(restore!.variants).toEqual(expect.arrayContaining([{ role: "blue", modelVersionId: two.modelVersionId, weightBps: 10_000 }, { role: "green", modelVersionId: one.modelVersionId, weightBps: 0 }]));
    // The restore is not held by the freeze: green comes up, smoke test, switch, promote.
    await markNewVariantReady(deps(), { deploymentId: restore!.id, upstreamUrl: "http://127.0.0.1:1", detail: "test" });
    let d = (await findDeploymentById(t.db, restore!.id))!;
    await analyseDeployment(deps(), d, { smoke: { passed: true, detail: "ok" } });
    d = (await findDeploymentById(t.db, restore!.id))!;
    expect((await analyseDeployment(deps(), d, { now: new Date(Date.now() + 2_000) })).decision.action).toBe("promote");
    expect((await findServingVariantForEndpoint(t.db, s.envs.staging!, ENDPOINT))!.modelVersionId).toBe(one.modelVersionId);
    expect((await findServingVariantForEndpoint(t.db, s.envs.prod!, ENDPOINT))!.modelVersionId).toBe(one.modelVersionId);
  });

  it("a first version that fails its SLOs stops at 0% and says there is no healthy version", async () => {
    const s = await seed(t.db);
    const { release } = await releaseOf(s);
    expect(await drive(stageOf(release, "dev").deploymentId!, 2_000)).toBe("rollback");
    const d = (await findDeploymentById(t.db, stageOf(release, "dev").deploymentId!))!;
    expect(d.state).toBe("rolled_back");
    expect(d.reason).toMatch(new RegExp(`^${NO_HEALTHY_VERSION}`));
    expect(d.variants.map((v) => v.weightBps)).toEqual([0]);
    const r = await advanceRelease(deps(), release.id);
    expect(stageOf(r, "dev")).toMatchObject({ state: "rolled_back", reason: expect.stringMatching(/^no healthy version: first release failed its SLOs/) });
    expect(r.stages.map((x) => x.state)).toEqual(["rolled_back", "blocked", "blocked"]);
    expect(r).toMatchObject({ state: "failed", reason: expect.stringMatching(/^dev: no healthy version/) });
  });

  it("a rejection blocks prod with the reviewer's comment and fails the release", async () => {
    const s = await seed(t.db);
    const spec = specFor({ deploy: { endpointName: ENDPOINT, environments: ["dev", "prod"], canary: { steps: [10_000], analysisWindowSeconds: 1, minRequests: 5 }, slo: { p99LatencyMs: 500, ttftP95Ms: 400, maxErrorRate: 0.05 } } });
    const { release } = await releaseOf(s, spec);
    await drive(stageOf(release, "dev").deploymentId!);
    await advanceRelease(deps(), release.id);
    const r = await decideReleaseStage(deps(), { releaseId: release.id, environment: "prod", decision: "rejected", comment: "eval too thin", actor: as(s.approver.id) });
    expect(stageOf(r, "prod")).toMatchObject({ state: "blocked", reason: `approval rejected by ${s.approver.email}: eval too thin` });
    expect(r.state).toBe("failed");
  });
});

describe("separation of duties from the git push and the spec", () => {
  it("records the pusher of a push-triggered run; neither the pusher nor the spec's last editor may approve its release", async () => {
    const s = await seed(t.db);
    const dataset = await t.db.dataset.create({ data: { projectId: s.projectId, name: "demo" }, select: { id: true } });
    await t.db.datasetVersion.create({ data: { datasetId: dataset.id, version: "v1", uri: "file:///tmp/none", sha256: "a".repeat(64), rowCount: 1, format: "alpaca", splits: {} } });
    const pusher = await t.db.user.create({ data: { email: `Pusher-${randomBytes(2).toString("hex")}@Example.test`, role: "approver" }, select: { id: true, email: true } });
    await t.db.projectMember.create({ data: { projectId: s.projectId, userId: pusher.id, role: "approver" } });
    const pipeline = await t.db.pipeline.create({ data: { projectId: s.projectId, name: "pushy", spec: { name: "pushy", model: { name: "m", baseModel: "/m" }, dataset: { name: "demo", version: "v1" }, deploy: { endpointName: ENDPOINT, environments: ["dev", "prod"] } } }, select: { id: true } });
    // The approver lowers a gate threshold: they become the spec's last editor.
    await updatePipeline(t.db, pipeline.id, { spec: { name: "pushy", model: { name: "m", baseModel: "/m" }, dataset: { name: "demo", version: "v1" }, eval: { metrics: ["rouge_l"], thresholds: [{ metric: "rouge_l", value: 0.01 }] }, deploy: { endpointName: ENDPOINT, environments: ["dev", "prod"] } } }, as(s.approver.id));

    const headers = new Headers({ "x-github-event": "push" });
    const push = parsePushEvent("github", headers, { ref: "refs/heads/main", after: "abcdef1234567", repository: { full_name: "acme/models" }, pusher: { name: "pusher", email: pusher.email.toLowerCase() } })!;
    expect(push.pusher).toEqual({ email: pusher.email.toLowerCase(), name: "pusher" });
    const { run } = await triggerRun(deps(), { projectId: s.projectId, pipelineId: pipeline.id, trigger: "webhook", gitCommit: push.commit, pushedBy: push.pusher });
    const row = await t.db.pipelineRun.findUniqueOrThrow({ where: { id: run.id }, select: { pushedById: true, pushedByIdentity: true, specEditedById: true, requestedById: true } });
    expect(row).toEqual({ pushedById: pusher.id, pushedByIdentity: pusher.email.toLowerCase(), specEditedById: s.approver.id, requestedById: null });
    // Whoever creates a spec is its editor; the system seeding a pipeline for its owner is not.
    const specOf = (name: string) => ({ name, model: { name: "m", baseModel: "/m" }, dataset: { name: "demo", version: "v1" } });
    const byUser = await createPipeline(t.db, s.projectId, { spec: specOf("by-user") }, as(s.engineer.id));
    const bySystem = await createPipeline(t.db, s.projectId, { spec: specOf("by-system") }, { type: "system", userId: s.admin.id });
    const editors = await t.db.pipeline.findMany({ where: { id: { in: [byUser.id, bySystem.id] } }, select: { id: true, specEditedById: true } });
    expect(Object.fromEntries(editors.map((p) => [p.id, p.specEditedById]))).toEqual({ [byUser.id]: s.engineer.id, [bySystem.id]: null });
    // A pusher without an account: stored as the identity string and compared by e-mail.
    const { run: other } = await triggerRun(deps(), { projectId: s.projectId, pipelineId: pipeline.id, trigger: "webhook", gitCommit: "abcdef7654321", pushedBy: { email: "stranger@elsewhere.test", name: "s" } });
    expect(await t.db.pipelineRun.findUniqueOrThrow({ where: { id: other.id }, select: { pushedById: true, pushedByIdentity: true } })).toEqual({ pushedById: null, pushedByIdentity: "stranger@elsewhere.test" });

    const v = await t.db.modelVersion.create({ data: { projectId: s.projectId, modelName: "m", version: 1, runId: run.id, baseModel: "/models/tiny", lineage: {} }, select: { id: true } });
    const first = await startDeployment(deps(), { runId: run.id, modelVersionId: v.id, environmentId: s.envs.dev!, endpointName: ENDPOINT, strategy: "canary", policy: { canary: { stepsBps: [10_000], stepSeconds: 1, minRequests: 5 } } });
    const spec = specFor({ deploy: { endpointName: ENDPOINT, environments: ["dev", "prod"], canary: { steps: [10_000], analysisWindowSeconds: 1, minRequests: 5 }, slo: { p99LatencyMs: 500, ttftP95Ms: 400, maxErrorRate: 0.05 } } });
    const release = await createReleaseForRun(deps(), { run: { id: run.id, projectId: s.projectId, requestedById: null }, modelVersionId: v.id, spec, firstDeploymentId: first.deploymentId, environments: s.environments });
    expect(release).toMatchObject({ pushedById: pusher.id, specEditedById: s.approver.id });
    await drive(first.deploymentId);
    expect(stageOf(await advanceRelease(deps(), release.id), "prod").state).toBe("awaiting_approval");
    await expect(decideReleaseStage(deps(), { releaseId: release.id, environment: "prod", decision: "approved", actor: as(pusher.id) })).rejects.toMatchObject({ status: 403, message: expect.stringMatching(/pushed the commit/) });
    await expect(decideReleaseStage(deps(), { releaseId: release.id, environment: "prod", decision: "approved", actor: as(s.approver.id) })).rejects.toMatchObject({ status: 403, message: expect.stringMatching(/last edited this pipeline's spec/) });
    const r = await decideReleaseStage(deps(), { releaseId: release.id, environment: "prod", decision: "approved", actor: as(s.requester.id) });
    expect(stageOf(r, "prod").state).toBe("rolling_out");

    // The run-level approval (first environment requiring approval) applies the same rule.
    const approval = await t.db.approvalRequest.create({ data: { projectId: s.projectId, environmentId: s.envs.prod!, subjectType: "run", subjectId: run.id, summary: "x" }, select: { id: true } });
    await expect(decideApproval(deps(), { approvalId: approval.id, decision: "approved", actor: as(pusher.id) })).rejects.toMatchObject({ status: 403, message: expect.stringMatching(/pushed the commit/) });
    await expect(decideApproval(deps(), { approvalId: approval.id, decision: "approved", actor: as(s.approver.id) })).rejects.toMatchObject({ status: 403, message: expect.stringMatching(/spec/) });
  });
});
