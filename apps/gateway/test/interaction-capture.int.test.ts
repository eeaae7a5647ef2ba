// The gateway stores prompt and response of answered requests only where the environment opted in, attaches the
// caller's feedback to them, and never lets a failure to store reach the client.
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { seedDeployable, useTestDb } from "@loraplane/db/testing";
import { createPipelineQueue } from "@loraplane/queue";
import { createFeedbackDatasetVersion, markNewVariantReady, promoteDeployment, startDeployment, triggerRun, updateEnvironment } from "@loraplane/services";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../src/log.ts";
import { createGateway, type TGateway } from "../src/server.ts";
import { startFakeUpstream, type TFakeUpstream } from "./fake-upstream.ts";
import { seedToken } from "./seed.ts";

const t = useTestDb("gateway-capture");
const queue = createPipelineQueue({ connection: { host: "127.0.0.1", port: 6379 }, prefix: `lpq-gwc-${randomBytes(4).toString("hex")}` });
const system = { type: "system" as const, userId: null };
let up: TFakeUpstream;
let gw: TGateway;
let base = "";
let token = "";
let seed: Awaited<ReturnType<typeof seedDeployable>>;
let deploymentId = "";

function chat(body: Record<string, unknown>, headers: Record<string, string> = {}) {
  return fetch(`${base}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}`, ...headers },
    body: JSON.stringify({ model: "qwen-zh", messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Say three tokens" }], ...body }),
  });
}

function feedback(body: Record<string, unknown>) {
  return fetch(`${base}/v1/feedback`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
}

const stored = (requestId: string) => t.db.interaction.findUnique({ where: { requestId } });

beforeAll(async () => {
  seed = await seedDeployable(t.db, { versions: 1 });
  await t.db.projectMember.create({ data: { projectId: seed.projectId, userId: seed.userId, role: "engineer" } });
  token = await seedToken(t.db, seed.userId, ["inference:invoke", "inference:pin"]);
  await t.db.environment.update({ where: { id: seed.environmentId }, data: { captureFeedbackData: true } });
  up = await startFakeUpstream(0, { tokens: 3 });
  gw = createGateway({ db: t.db, databaseUrl: t.url, log: createLogger("silent"), gatewayId: "gw-capture", requireAuth: true, maxBodyBytes: 65_536, upstreamTimeoutMs: 10_000, flushIntervalMs: 60_000, resyncMs: 60_000, tokenCacheMs: 200 });
  base = `http://127.0.0.1:${await gw.listen(0, "127.0.0.1")}`;
  const v = seed.versions[0]!;
  const deps = { db: t.db, queue };
  ({ deploymentId } = await startDeployment(deps, { runId: v.runId, modelVersionId: v.id, environmentId: seed.environmentId, endpointName: "qwen-zh", strategy: "canary", policy: {} }));
  await markNewVariantReady(deps, { deploymentId, upstreamUrl: up.url, detail: "fake upstream" });
  await promoteDeployment(deps, { deploymentId, actor: system });
  await gw.routing.reload();
});

afterAll(async () => {
  await gw?.close();
  await up?.close();
  await queue.runs.obliterate({ force: true });
  await queue.close();
});

describe("interaction capture", () => {
  it("stores prompt and response of a JSON answer; feedback given before the write attaches to it", async () => {
    const res = await chat({});
    expect(res.status).toBe(200);
    const requestId = res.headers.get("x-request-id")!;
    expect(((await res.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content).toBe("t0 t1 t2");
    // Not written yet (batched): the rating lands on the row in memory.
    const fb = await feedback({ request_id: requestId, rating: "up", comment: "exactly right" });
    expect(fb.status).toBe(202);
    expect(await fb.json()).toMatchObject({ accepted: true, stored: true });
    await gw.flush();
    const row = await stored(requestId);
    expect(row).toMatchObject({
      deploymentId,
      environmentId: seed.environmentId,
      projectId: seed.projectId,
      modelVersionId: seed.versions[0]!.id,
      variantRole: "canary",
      endpointName: "qwen-zh",
      operation: "chat/completions",
      response: "t0 t1 t2",
      streamed: false,
      truncated: false,
      rating: "up",
      comment: "exactly right",
      userId: seed.userId,
    });
    expect(row!.prompt).toEqual({ messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Say three tokens" }] });
  });

  it("assembles a streamed answer from the chunks it forwarded, without holding them back; later feedback updates the stored row", async () => {
    up.faults.tokens = 4;
    up.faults.tokenDelayMs = 250;
    try {
      const started = Date.now();
      const res = await chat({ stream: true });
      expect(res.status).toBe(200);
      const requestId = res.headers.get("x-request-id")!;
      const reader = res.body!.getReader();
      let firstChunkAt = 0;
      let text = "";
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (!firstChunkAt && new TextDecoder().decode(value).includes('"content":"t0')) firstChunkAt = Date.now();
        text += new TextDecoder().decode(value);
      }
      const endedAt = Date.now();
      expect(text).toContain("[DONE]");
      // The first token reached the client well before the last one was written upstream (3 delays of 250 ms later).
      expect(firstChunkAt - started).toBeLessThan(endedAt - started - 400);
      await gw.flush();
      expect(await stored(requestId)).toMatchObject({ response: "t0 t1 t2 t3 ", streamed: true, rating: null });
      const fb = await feedback({ request_id: requestId, rating: "down" });
      expect(await fb.json()).toMatchObject({ stored: true });
      await gw.flush();
      expect(await stored(requestId)).toMatchObject({ rating: "down", comment: null });
    } finally {
      up.faults.tokens = 3;
      up.faults.tokenDelayMs = 0;
    }
  });

  it("refuses a malformed comment naming the field", async () => {
    const res = await chat({});
    const bad = await feedback({ request_id: res.headers.get("x-request-id"), rating: "up", comment: 42 });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { param: "comment" } });
  });

  it("does not store pinned traffic", async () => {
    const res = await chat({}, { "x-loraplane-variant": "canary" });
    expect(res.status).toBe(200);
    await gw.flush();
    expect(await stored(res.headers.get("x-request-id")!)).toBeNull();
  });

  it("a failure to store never fails the request, and the row is written once the database takes it again", async () => {
    await gw.flush();
    await t.db.$executeRawUnsafe('ALTER TABLE "Interaction" RENAME TO "Interaction_away"');
    let requestId = "";
    try {
      const res = await chat({});
      expect(res.status).toBe(200);
      requestId = res.headers.get("x-request-id")!;
      await gw.flush();
      expect(gw.capture.pendingCount).toBe(1);
    } finally {
      await t.db.$executeRawUnsafe('ALTER TABLE "Interaction_away" RENAME TO "Interaction"');
    }
    await gw.flush();
    expect(await stored(requestId)).toMatchObject({ response: "t0 t1 t2" });
    expect(await (await fetch(`${base}/metrics`)).text()).toMatch(/loraplane_gateway_interactions_total\{outcome="stored"\} [3-9]/);
  });

  it("the rated interactions become a dataset version with its lineage, and a run is triggered on it", async () => {
    await gw.flush();
    const dataDir = mkdtempSync(path.join(os.tmpdir(), "lp-gwc-"));
    const created = await createFeedbackDatasetVersion(t.db, deploymentId, { newDatasetName: "from-gateway", filter: { ratings: ["up"] }, format: "chat", validationPercent: 0 }, system, {}, dataDir);
    expect(created.version).toMatchObject({ version: "v1", rowCount: 1, sourceDeploymentId: deploymentId, lineage: { kind: "feedback", deploymentId, filter: { ratings: ["up"] } } });
    const spec = { name: "p-feedback", model: { name: "m", baseModel: "/models/tiny" }, dataset: { name: "from-gateway", version: "v0" } };
    const pipeline = await t.db.pipeline.create({ data: { projectId: seed.projectId, name: spec.name, spec }, select: { id: true } });
    const { run } = await triggerRun({ db: t.db, queue }, { projectId: seed.projectId, pipelineId: pipeline.id, trigger: "api", datasetVersionId: created.version.id });
    const stored = await t.db.pipelineRun.findUniqueOrThrow({ where: { id: run.id }, select: { datasetVersionId: true, resolvedSpec: true } });
    expect(stored.datasetVersionId).toBe(created.version.id);
    expect((stored.resolvedSpec as { dataset: unknown }).dataset).toMatchObject({ name: "from-gateway", version: "v1", format: "chat" });
  });

  it("stores nothing once the environment opts out", async () => {
    await updateEnvironment(t.db, seed.environmentId, { captureFeedbackData: false }, system);
    await gw.routing.reload();
    await gw.flush();
    const before = await t.db.interaction.count();
    const res = await chat({});
    expect(res.status).toBe(200);
    const fb = await feedback({ request_id: res.headers.get("x-request-id"), rating: "up" });
    expect(await fb.json()).toMatchObject({ accepted: true, stored: false });
    await gw.flush();
    expect(await t.db.interaction.count()).toBe(before);
  });
});
