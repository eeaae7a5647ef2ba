// The engine's deploy stage creates the release; the rollout controller's tick brings each environment's backend up,
// analyses it, and advances the release to the next environment (here with a fake serving backend).
import { randomBytes } from "node:crypto";
import { emptyHistogram, recordValue, resolveSpec } from "@loraplane/core";
import { findDeploymentById, findReleaseById, upsertServingWindows } from "@loraplane/db";
import { useTestDb } from "@loraplane/db/testing";
import { createPipelineQueue } from "@loraplane/queue";
import { decideReleaseStage } from "@loraplane/services";
import { pino } from "pino";
import { afterAll, expect, it } from "vitest";
import { runDeploy } from "../../src/engine/inline-stages.ts";
import type { TEngineContext } from "../../src/engine/context.ts";
import { createRolloutController } from "../../src/rollout/controller.ts";
import type { TServingBackend } from "../../src/serving/types.ts";

const t = useTestDb("release-controller");
const queue = createPipelineQueue({ connection: { host: "127.0.0.1", port: 6379 }, prefix: `lpq-relc-${randomBytes(4).toString("hex")}` });
afterAll(async () => {
  await queue.runs.obliterate({ force: true });
  await queue.stages.obliterate({ force: true });
  await queue.close();
});

const loaded: string[] = [];
const fake: TServingBackend = {
  kind: "local",
  async ensure(target) {
    return { url: `http://127.0.0.1:9/${target.environmentId}`, externalId: `pid:${target.environmentId}` };
  },
  async loadAdapter(_i, name) {
    loaded.push(name);
  },
  async unloadAdapter() {},
  async stop() {},
};

async function traffic(deploymentId: string) {
  const d = (await findDeploymentById(t.db, deploymentId))!;
  const v = d.variants.find((x) => x.role === "canary")!;
  const h = emptyHistogram();
  for (let i = 0; i < 20; i++) recordValue(h, 30);
  await upsertServingWindows(t.db, [{ deploymentId, variantId: v.id, gatewayId: "gw", windowStart: new Date(Math.floor(Date.now() / 1000) * 1000), windowSeconds: 1, requests: 20, errors: 0, errors4xx: 0, errors5xx: 0, timeouts: 0, latencyHist: h, ttftHist: h, latencySumMs: 600, outputTokens: 20, feedbackUp: 0, feedbackDown: 0 }]);
}

it("deploy stage → release; ticks roll out dev, promote it and take prod to its approval, then start prod", { timeout: 60_000 }, async () => {
  const requester = await t.db.user.create({ data: { email: "req@rc.test", role: "engineer" }, select: { id: true } });
  const approver = await t.db.user.create({ data: { email: "appr@rc.test", role: "approver" }, select: { id: true } });
  const project = await t.db.project.create({ data: { slug: "rc", name: "rc" }, select: { id: true } });
  await t.db.projectMember.createMany({ data: [{ projectId: project.id, userId: requester.id, role: "engineer" }, { projectId: project.id, userId: approver.id, role: "approver" }] });
  for (const tier of ["dev", "prod"] as const) await t.db.environment.create({ data: { projectId: project.id, name: tier, tier, namespace: tier } });
  const resolved = resolveSpec({
    name: "rc",
    model: { name: "rc", baseModel: "/models/tiny" },
    dataset: { name: "d", version: "v1" },
    deploy: { endpointName: "chat", environments: ["dev", "prod"], canary: { steps: [10_000], analysisWindowSeconds: 1, minRequests: 5 } },
  });
  if (!resolved.ok) throw new Error("spec");
  const pipeline = await t.db.pipeline.create({ data: { projectId: project.id, name: "rc", spec: {} }, select: { id: true } });
  const run = await t.db.pipelineRun.create({ data: { projectId: project.id, pipelineId: pipeline.id, number: 1, trigger: "api", specVersion: 1, resolvedSpec: resolved.spec as object, requestedById: requester.id } });
  const artifact = await t.db.artifact.create({ data: { runId: run.id, kind: "adapter", uri: "file:///tmp/adapter" }, select: { id: true } });
  const mv = await t.db.modelVersion.create({ data: { projectId: project.id, modelName: "rc", version: 1, runId: run.id, baseModel: "/models/tiny", adapterArtifactId: artifact.id, lineage: {} }, select: { id: true } });
  await t.db.stageRun.create({ data: { runId: run.id, stage: "register", attempt: 1, status: "succeeded", result: { modelVersionId: mv.id } } });

  const ctx = { db: t.db, queue } as unknown as TEngineContext;
  const out = await runDeploy(ctx, run as never, resolved.spec);
  expect(out).toMatchObject({ status: "succeeded", result: { environment: "dev", releaseId: expect.any(String) } });
  const releaseId = (out as unknown as { result: { releaseId: string } }).result.releaseId;
  // A retried deploy stage gets the same release.
  expect(await runDeploy(ctx, run as never, resolved.spec)).toMatchObject({ result: { releaseId } });

  const controller = createRolloutController({ deps: { db: t.db, queue }, backends: { local: fake }, log: pino({ level: "silent" }), drainMs: 0 });
  await controller.tick(); // dev: backend up, adapter loaded, traffic starts
  let release = (await findReleaseById(t.db, releaseId))!;
  const devDeployment = release.stages[0]!.deploymentId!;
  expect((await findDeploymentById(t.db, devDeployment))!.state).toBe("progressing");
  await traffic(devDeployment);
  await new Promise((r) => setTimeout(r, 1_100));
  await controller.tick(); // dev promoted by the analysis; the release tick promotes the stage and asks for prod's approval
  release = (await findReleaseById(t.db, releaseId))!;
  expect(release.stages.map((s) => [s.environment.name, s.state])).toEqual([["dev", "promoted"], ["prod", "awaiting_approval"]]);

  await expect(decideReleaseStage({ db: t.db, queue }, { releaseId, environment: "prod", decision: "approved", actor: { type: "user", userId: requester.id } })).rejects.toMatchObject({ status: 403 });
  await decideReleaseStage({ db: t.db, queue }, { releaseId, environment: "prod", decision: "approved", actor: { type: "user", userId: approver.id } });
  await controller.tick(); // prod's backend comes up
  release = (await findReleaseById(t.db, releaseId))!;
  expect(release.stages[1]!.state).toBe("rolling_out");
  expect((await findDeploymentById(t.db, release.stages[1]!.deploymentId!))!.state).toBe("progressing");
  expect(loaded).toEqual(["rc-v1", "rc-v1"]);
});
