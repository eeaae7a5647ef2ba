import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import { findDeploymentById, listDeploymentsInStates } from "@loraplane/db";
import { createPrismaClient } from "@loraplane/db";
import { createTestDatabase, seedDeployable, useTestDb } from "@loraplane/db/testing";
import { createPipelineQueue } from "@loraplane/queue";
import { analyseDeployment, markNewVariantReady, promoteDeployment, rollbackDeployment, startDeployment } from "@loraplane/services";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../src/log.ts";
import { createGateway, type TGateway } from "../src/server.ts";
import { startFakeUpstream, type TFakeUpstream } from "./fake-upstream.ts";
import { seedToken } from "./seed.ts";

const t = useTestDb("gateway");
const queue = createPipelineQueue({ connection: { host: "127.0.0.1", port: 6379 }, prefix: `lpq-gw-${randomBytes(4).toString("hex")}` });
const deps = () => ({ db: t.db, queue });
const ups: TFakeUpstream[] = [];
let gw: TGateway;
let base = "";
let token = "";
let seed: Awaited<ReturnType<typeof seedDeployable>>;
const system = { type: "system" as const, userId: null };

async function deployReady(versionIndex: number, upstream: TFakeUpstream, policy: unknown) {
  const v = seed.versions[versionIndex]!;
  const { deploymentId } = await startDeployment(deps(), { runId: v.runId, modelVersionId: v.id, environmentId: seed.environmentId, endpointName: "qwen-zh", strategy: "canary", policy });
  await markNewVariantReady(deps(), { deploymentId, upstreamUrl: upstream.url, detail: "fake upstream" });
  return deploymentId;
}

/** The rollout controller's loop, as the workers run it: analyse every progressing deployment. */
function controllerLoop(everyMs: number) {
  let stop = false;
  const done = (async () => {
    while (!stop) {
      for (const d of await listDeploymentsInStates(t.db, ["progressing"])) await analyseDeployment(deps(), d);
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return async () => {
    stop = true;
    await done;
  };
}

function chat(body: Record<string, unknown>, headers: Record<string, string> = {}, signal?: AbortSignal) {
  return fetch(`${base}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}`, ...headers },
    body: JSON.stringify({ messages: [{ role: "user", content: "hi" }], ...body }),
    signal,
  });
}

/** Continuous load: `concurrency` loops of requests until stopped; returns every status and the variant that served. */
function load(concurrency: number) {
  let stop = false;
  const results: { status: number; variant: string | null; at: number }[] = [];
  const loops = Array.from({ length: concurrency }, async (_, i) => {
    let n = 0;
    while (!stop) {
      try {
        const res = await chat({ model: "qwen-zh" }, { "x-user-id": `load-${i}-${n++}` });
        await res.arrayBuffer();
        results.push({ status: res.status, variant: res.headers.get("x-loraplane-variant"), at: performance.now() });
      } catch {
        results.push({ status: 0, variant: null, at: performance.now() });
      }
    }
  });
  return async () => {
    stop = true;
    await Promise.all(loops);
    return results;
  };
}

beforeAll(async () => {
  seed = await seedDeployable(t.db, { versions: 4 });
  // The token's owner belongs to the project (tenancy: a token reaches only its owner's projects).
  await t.db.projectMember.create({ data: { projectId: seed.projectId, userId: seed.userId, role: "engineer" } });
  token = await seedToken(t.db, seed.userId, ["inference:invoke", "inference:pin"]);
  for (let i = 0; i < 4; i++) ups.push(await startFakeUpstream(0));
  gw = createGateway({ db: t.db, databaseUrl: t.url, log: createLogger("silent"), gatewayId: "gw-test", requireAuth: true, maxBodyBytes: 4096, upstreamTimeoutMs: 3000, flushIntervalMs: 1000, resyncMs: 2000, tokenCacheMs: 200 });
  base = `http://127.0.0.1:${await gw.listen(0, "127.0.0.1")}`;
  // v1 becomes the production version on ups[0].
  const first = await deployReady(0, ups[0]!, {});
  await promoteDeployment(deps(), { deploymentId: first, actor: system });
  await gw.routing.reload();
});

afterAll(async () => {
  await gw?.close();
  await Promise.all(ups.map((u) => u.close()));
  await queue.runs.obliterate({ force: true });
  await queue.close();
});

describe("gateway", () => {
  it("authenticates, validates and names the bad field", async () => {
    const noToken = await fetch(`${base}/v1/chat/completions`, { method: "POST", body: "{}" });
    expect(noToken.status).toBe(401);
    const readOnly = await seedToken(t.db, seed.userId, ["runs:read"]);
    expect((await chat({ model: "qwen-zh" }, { authorization: `Bearer ${readOnly}` })).status).toBe(403);
    const other = await seedToken(t.db, seed.userId, ["inference:invoke"], (await t.db.project.create({ data: { slug: `o-${Date.now()}`, name: "o" } })).id);
    expect((await chat({ model: "qwen-zh" }, { authorization: `Bearer ${other}` })).status).toBe(404);
    const missing = await chat({});
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ error: { param: "model" } });
    expect((await chat({ model: "nope" })).status).toBe(404);
    expect((await chat({ model: "qwen-zh", pad: "x".repeat(5000) })).status).toBe(413);
    const notJson = await fetch(`${base}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: "{" });
    expect(notJson.status).toBe(400);
    expect((await fetch(`${base}/health`)).status).toBe(200);
  });

  it("rewrites model to the variant's served name, honours the version header, keeps sticky users, streams token by token", async () => {
    const canaryId = await deployReady(1, ups[1]!, { canary: { stepsBps: [5000, 10000], stepSeconds: 3600 } });
    await gw.routing.reload();
    const res = await chat({ model: "qwen-zh" }, { "x-loraplane-variant": "canary" });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-loraplane-variant")).toBe("canary");
    expect(((await res.json()) as { model: string }).model).toBe("qwen-zh-v2");
    expect(ups[1]!.seenModels.at(-1)).toBe("qwen-zh-v2");
    expect((await chat({ model: "qwen-zh" }, { "x-loraplane-variant": "qwen-zh-v1" })).headers.get("x-loraplane-variant")).toBe("stable");
    expect((await chat({ model: "qwen-zh" }, { "x-loraplane-variant": "green" })).status).toBe(400);

    const seen = new Map<string, Set<string>>();
    for (let u = 0; u < 12; u++) {
      for (let k = 0; k < 4; k++) {
        const r = await chat({ model: "qwen-zh" }, { "x-user-id": `user-${u}` });
        await r.arrayBuffer();
        const set = seen.get(`user-${u}`) ?? new Set();
        set.add(r.headers.get("x-loraplane-variant")!);
        seen.set(`user-${u}`, set);
      }
    }
    expect([...seen.values()].every((s) => s.size === 1)).toBe(true);
    expect(new Set([...seen.values()].map((s) => [...s][0])).size).toBe(2);

    ups[1]!.faults.tokenDelayMs = 150;
    ups[1]!.faults.tokens = 5;
    const started = performance.now();
    const streamed = await chat({ model: "qwen-zh", stream: true }, { "x-loraplane-variant": "canary" });
    expect(streamed.headers.get("content-type")).toMatch(/text\/event-stream/);
    const arrivals: number[] = [];
    let text = "";
    const reader = streamed.body!.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      arrivals.push(performance.now() - started);
      text += new TextDecoder().decode(value);
    }
    expect(text).toContain("t4");
    expect(text.trim().endsWith("data: [DONE]")).toBe(true);
    // The first token reaches the client long before the last one is generated: nothing is buffered.
    expect(arrivals[0]!).toBeLessThan(200);
    expect(arrivals.at(-1)!).toBeGreaterThan(550);
    expect(arrivals.length).toBeGreaterThanOrEqual(4);

    // A client that goes away cancels the upstream request.
    ups[1]!.faults.tokens = 50;
    const before = ups[1]!.cancelled;
    const ac = new AbortController();
    const cancelledRes = await chat({ model: "qwen-zh", stream: true }, { "x-loraplane-variant": "canary" }, ac.signal);
    await cancelledRes.body!.getReader().read();
    ac.abort();
    await new Promise((r) => setTimeout(r, 300));
    expect(ups[1]!.cancelled).toBe(before + 1);
    ups[1]!.faults.tokenDelayMs = 0;
    ups[1]!.faults.tokens = 3;

    // Windows reach Postgres with the requests, the streamed tokens and the TTFT.
    await gw.flush();
    const windows = await t.db.servingWindow.findMany({ where: { deploymentId: canaryId }, select: { requests: true, outputTokens: true, gatewayId: true } });
    expect(windows.reduce((s, w) => s + w.requests, 0)).toBeGreaterThanOrEqual(20);
    expect(windows.every((w) => w.gatewayId === "gw-test")).toBe(true);
    // A repeated flush rewrites the same totals: nothing is counted twice.
    const sumRequests = async () => (await t.db.servingWindow.aggregate({ where: { deploymentId: canaryId }, _sum: { requests: true } }))._sum.requests;
    const flushedOnce = await sumRequests();
    await gw.flush();
    expect(await sumRequests()).toBe(flushedOnce);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/loraplane_gateway_requests_total\{endpoint="qwen-zh",variant="qwen-zh-v2",outcome="ok"\} \d+/);

    // Feedback lands on the variant that served the request (unpinned: feedback on pinned traffic is not counted).
    const fbRes = await chat({ model: "qwen-zh" }, { "x-user-id": "feedback-user" });
    await fbRes.arrayBuffer();
    const fb = await fetch(`${base}/v1/feedback`, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: JSON.stringify({ request_id: fbRes.headers.get("x-request-id"), rating: "up" }) });
    expect(fb.status).toBe(202);
    expect((await fetch(`${base}/v1/feedback`, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: JSON.stringify({ request_id: "x", rating: "meh" }) })).status).toBe(400);
    await gw.flush();
    const up = await t.db.servingWindow.aggregate({ where: { deploymentId: canaryId }, _sum: { feedbackUp: true } });
    expect(up._sum.feedbackUp).toBe(1);

    // Finish this deployment so the next test starts from v1 as stable again.
    await rollbackDeployment(deps(), { deploymentId: canaryId, actor: system, reason: "test cleanup" });
  });

  it("rolls a slow canary back automatically with no failed client request under load", async () => {
    ups[2]!.faults.latencyMs = 300;
    const id = await deployReady(2, ups[2]!, { slo: { p99LatencyMs: 150, ttftP95Ms: 150, errorRate: 0.05 }, canary: { stepsBps: [2500, 10000], stepSeconds: 60, minRequests: 5 }, minRequestsForRollback: 5 });
    const stopLoad = load(6);
    const stopController = controllerLoop(300);
    const t0 = performance.now();
    let rolledBackAt = 0;
    while (performance.now() - t0 < 20_000) {
      const d = await findDeploymentById(t.db, id);
      if (d!.state === "rolled_back") {
        rolledBackAt = performance.now();
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 1500));
    await stopController();
    const results = await stopLoad();
    expect(rolledBackAt).toBeGreaterThan(0);
    expect(results.filter((r) => r.status !== 200)).toEqual([]);
    const after = results.filter((r) => r.at > rolledBackAt + 700);
    expect(after.length).toBeGreaterThan(5);
    expect(after.every((r) => r.variant === "stable")).toBe(true);
    const d = await findDeploymentById(t.db, id);
    expect(d!.variants.map((v) => [v.role, v.weightBps, v.status])).toEqual([["stable", 10000, "ready"], ["canary", 0, "failed"]]);
    const events = await t.db.rolloutEvent.findMany({ where: { deploymentId: id, type: "rollback" }, select: { reason: true } });
    expect(events[0]!.reason).toMatch(/p99_latency_ms|ttft_p95_ms/);
    console.info(`breach → rollback decision ${((rolledBackAt - t0) / 1000).toFixed(2)} s after the canary took traffic`);
  });

  it("promotes a healthy canary to 100% step by step with no failed client request", async () => {
    ups[3]!.faults.latencyMs = 2;
    const id = await deployReady(3, ups[3]!, {
      canary: { stepsBps: [2000, 5000, 10000], stepSeconds: 2, minRequests: 10 },
      // Healthy means healthy here: latency spikes from other processes on a shared CI machine must not roll it back.
      slo: { p99LatencyMs: 10_000, ttftP95Ms: 10_000, errorRate: 0.05 },
      relative: { minP99DiffMs: 5_000 },
    });
    const stopLoad = load(4);
    const stopController = controllerLoop(300);
    const t0 = performance.now();
    let promotedAt = 0;
    while (performance.now() - t0 < 20_000) {
      const d = await findDeploymentById(t.db, id);
      if (d!.state === "promoted") {
        promotedAt = performance.now();
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 1500));
    await stopController();
    const results = await stopLoad();
    const trail = await t.db.rolloutEvent.findMany({ where: { deploymentId: id }, select: { type: true, reason: true }, orderBy: { createdAt: "asc" } });
    expect(promotedAt, JSON.stringify(trail)).toBeGreaterThan(0);
    expect(results.filter((r) => r.status !== 200)).toEqual([]);
    const after = results.filter((r) => r.at > promotedAt + 700);
    expect(after.length).toBeGreaterThan(5);
    expect(after.every((r) => r.variant === "canary")).toBe(true);
    const steps = await t.db.rolloutEvent.findMany({ where: { deploymentId: id }, select: { type: true, weights: true }, orderBy: { createdAt: "asc" } });
    expect(steps.map((s) => s.type)).toEqual(["created", "step", "step", "promote"]);
  });

  it("keeps serving from its last routing table and cached tokens while Postgres is gone", async () => {
    const other = await createTestDatabase("gwdown");
    const odb = createPrismaClient({ url: other.url, poolSize: 2 });
    const local = await seedDeployable(odb, { versions: 4 });
    await odb.projectMember.create({ data: { projectId: local.projectId, userId: local.userId, role: "engineer" } });
    const localToken = await seedToken(odb, local.userId, ["inference:invoke"]);
    const v = local.versions[0]!;
    const odeps = { db: odb, queue };
    const { deploymentId } = await startDeployment(odeps, { runId: v.runId, modelVersionId: v.id, environmentId: local.environmentId, endpointName: "resilient" });
    await markNewVariantReady(odeps, { deploymentId, upstreamUrl: ups[0]!.url, detail: "fake" });
    const gw2 = createGateway({ db: odb, databaseUrl: other.url, log: createLogger("silent"), gatewayId: "gw-down", requireAuth: true, maxBodyBytes: 4096, upstreamTimeoutMs: 3000, flushIntervalMs: 60_000, resyncMs: 200 });
    const base2 = `http://127.0.0.1:${await gw2.listen(0, "127.0.0.1")}`;
    const call = () => fetch(`${base2}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${localToken}` }, body: JSON.stringify({ model: "resilient", messages: [] }) });
    try {
      expect((await call()).status).toBe(200);
      await odb.$disconnect();
      await other.drop();
      await new Promise((r) => setTimeout(r, 600));
      expect(gw2.routing.lastError).not.toBeNull();
      for (let i = 0; i < 5; i++) expect((await call()).status).toBe(200);
      // Unknown tokens cannot be checked: 503, not a false 401.
      const unknown = await fetch(`${base2}/v1/chat/completions`, { method: "POST", headers: { authorization: "Bearer lp_unknown" }, body: "{}" });
      expect(unknown.status).toBe(503);
      // Windows that could not be written are kept for the next flush.
      await gw2.flush();
      expect(gw2.recorder.pending().length).toBeGreaterThan(0);
    } finally {
      await gw2.close();
    }
  });

  it("answers 504 past the timeout, retries a 503 on the other variant and cuts a stream whose upstream dies", async () => {
    const healthy = await startFakeUpstream(0);
    const unavailable = await startFakeUpstream(0, { errorRate: 1, errorStatus: 503 });
    ups.push(healthy, unavailable);
    const local = await seedDeployable(t.db, { versions: 4 });
    await t.db.projectMember.create({ data: { projectId: local.projectId, userId: seed.userId, role: "engineer" } });
    const [v1, v2] = local.versions;
    const first = await startDeployment(deps(), { runId: v1!.runId, modelVersionId: v1!.id, environmentId: local.environmentId, endpointName: "faults" });
    await markNewVariantReady(deps(), { deploymentId: first.deploymentId, upstreamUrl: healthy.url, detail: "fake" });
    await promoteDeployment(deps(), { deploymentId: first.deploymentId, actor: system });
    const second = await startDeployment(deps(), { runId: v2!.runId, modelVersionId: v2!.id, environmentId: local.environmentId, endpointName: "faults", policy: { canary: { stepsBps: [5000, 10000], stepSeconds: 3600 } } });
    await markNewVariantReady(deps(), { deploymentId: second.deploymentId, upstreamUrl: unavailable.url, detail: "answers 503" });
    // A second gateway on the same routing table with a short whole-request timeout.
    const gw3 = createGateway({ db: t.db, databaseUrl: t.url, log: createLogger("silent"), gatewayId: "gw-faults", requireAuth: true, maxBodyBytes: 4096, upstreamTimeoutMs: 500, flushIntervalMs: 60_000, resyncMs: 60_000 });
    const base3 = `http://127.0.0.1:${await gw3.listen(0, "127.0.0.1")}`;
    const call = (body: Record<string, unknown>, headers: Record<string, string>) =>
      fetch(`${base3}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${token}`, ...headers }, body: JSON.stringify({ model: "faults", messages: [], ...body }) });
    try {
      for (let i = 0; i < 10; i++) {
        const r = await call({}, { "x-user-id": `faults-${i}` });
        expect(r.status).toBe(200);
        expect(r.headers.get("x-loraplane-variant")).toBe("stable");
        await r.arrayBuffer();
      }
      expect(unavailable.requests).toBeGreaterThan(0);
      // Pinned to the 503 variant there is nothing else to try: its last answer goes through unchanged.
      const pinned = await call({}, { "x-loraplane-variant": "canary" });
      expect(pinned.status).toBe(503);
      expect(await pinned.json()).toMatchObject({ message: "injected" });

      healthy.faults.latencyMs = 1500;
      const started = performance.now();
      // Unpinned (pinned traffic stays out of the windows): the canary answers 503, so every request ends on stable.
      const slow = await call({}, { "x-user-id": "slow" });
      expect(slow.status).toBe(504);
      expect(await slow.json()).toMatchObject({ error: { type: "timeout" } });
      expect(performance.now() - started).toBeLessThan(1200);
      healthy.faults.latencyMs = 0;

      // Mid-stream the status line is already out: the only honest signal left is a cut connection, never a clean end.
      Object.assign(healthy.faults, { tokens: 5, tokenDelayMs: 30, cutAfterTokens: 2 });
      const cut = await call({ stream: true }, { "x-user-id": "cut" });
      expect(cut.status).toBe(200);
      await expect(cut.text()).rejects.toThrow();
      Object.assign(healthy.faults, { tokens: 3, tokenDelayMs: 0, cutAfterTokens: null });

      await gw3.flush();
      const stable = (await findDeploymentById(t.db, second.deploymentId))!.variants.find((v) => v.role === "stable")!;
      const w = await t.db.servingWindow.aggregate({ where: { variantId: stable.id, gatewayId: "gw-faults" }, _sum: { requests: true, timeouts: true, errors5xx: true } });
      expect(w._sum).toEqual({ requests: 12, timeouts: 1, errors5xx: 1 });
    } finally {
      await gw3.close();
    }
  });

  it("retries a dead upstream before the first byte on the other variant; the client never sees it", async () => {
    const local = await seedDeployable(t.db, { versions: 4 });
    await t.db.projectMember.create({ data: { projectId: local.projectId, userId: seed.userId, role: "engineer" } });
    const [v1, v2] = local.versions;
    const ldeps = deps();
    const first = await startDeployment(ldeps, { runId: v1!.runId, modelVersionId: v1!.id, environmentId: local.environmentId, endpointName: "retry" });
    await markNewVariantReady(ldeps, { deploymentId: first.deploymentId, upstreamUrl: ups[0]!.url, detail: "fake" });
    await promoteDeployment(ldeps, { deploymentId: first.deploymentId, actor: system });
    const second = await startDeployment(ldeps, { runId: v2!.runId, modelVersionId: v2!.id, environmentId: local.environmentId, endpointName: "retry", policy: { canary: { stepsBps: [5000, 10000], stepSeconds: 3600 } } });
    // Nothing listens on port 1: every attempt on the canary fails to connect.
    await markNewVariantReady(ldeps, { deploymentId: second.deploymentId, upstreamUrl: "http://127.0.0.1:1", detail: "dead" });
    await gw.routing.reload();
    // The token's cached memberships predate this project.
    await new Promise((r) => setTimeout(r, 300));
    for (let i = 0; i < 20; i++) {
      const res = await chat({ model: "retry" }, { "x-user-id": `retry-${i}` });
      expect(res.status).toBe(200);
      expect(res.headers.get("x-loraplane-variant")).toBe("stable");
      await res.arrayBuffer();
    }
    const metrics = await (await fetch(`${base}/metrics`)).text();
    const retried = /loraplane_gateway_retries_total\{endpoint="retry",variant="qwen-zh-v2"\} (\d+)/.exec(metrics);
    expect(Number(retried?.[1])).toBeGreaterThan(3);
    await gw.flush();
    const canaryVariant = (await findDeploymentById(t.db, second.deploymentId))!.variants.find((v) => v.role === "canary")!;
    const w = await t.db.servingWindow.aggregate({ where: { variantId: canaryVariant.id }, _sum: { errors: true, errors5xx: true } });
    expect(w._sum.errors).toBe(Number(retried![1]));
    // Pinned to the dead variant there is no other to retry on: 502 after the attempts, never a hang.
    expect((await chat({ model: "retry" }, { "x-loraplane-variant": "canary" })).status).toBe(502);
  });
});
