// Pinning and feedback abuse (#11 finding 13) and the gateway's /metrics exposure (#11, low).
import { randomBytes } from "node:crypto";
import { networkInterfaces } from "node:os";
import { findDeploymentById } from "@loraplane/db";
import { useTestDb, seedDeployable } from "@loraplane/db/testing";
import { createPipelineQueue } from "@loraplane/queue";
import { markNewVariantReady, promoteDeployment, startDeployment } from "@loraplane/services";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../src/log.ts";
import { createGateway, type TGateway, type TGatewayOptions } from "../src/server.ts";
import { startFakeUpstream, type TFakeUpstream } from "./fake-upstream.ts";
import { seedToken } from "./seed.ts";

const t = useTestDb("gwabuse");
const queue = createPipelineQueue({ connection: { host: "127.0.0.1", port: 6379 }, prefix: `lpq-gwab-${randomBytes(4).toString("hex")}` });
const system = { type: "system" as const, userId: null };
const ups: TFakeUpstream[] = [];
const gws: TGateway[] = [];
let base = "";
let gw: TGateway;
let seed: Awaited<ReturnType<typeof seedDeployable>>;
let deploymentId = "";
const variantIds = { stable: "", canary: "" };
const tokens = { invoke: "", invoke2: "", pin: "", colleague: "" };

async function start(extra: Partial<TGatewayOptions> = {}, host = "127.0.0.1") {
  const g = createGateway({ db: t.db, databaseUrl: t.url, log: createLogger("silent"), gatewayId: `gw-abuse-${gws.length}`, requireAuth: true, maxBodyBytes: 4096, upstreamTimeoutMs: 3000, flushIntervalMs: 60_000, resyncMs: 60_000, ...extra });
  gws.push(g);
  return { g, port: await g.listen(0, host) };
}

function chat(token: string, headers: Record<string, string> = {}) {
  return fetch(`${base}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${token}`, ...headers }, body: JSON.stringify({ model: "ab", messages: [] }) });
}
function feedback(token: string, requestId: string | null, rating = "down") {
  return fetch(`${base}/v1/feedback`, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: JSON.stringify({ request_id: requestId, rating }) });
}
async function windowTotals(variantId: string) {
  await gw.flush();
  const w = await t.db.servingWindow.aggregate({ where: { variantId }, _sum: { requests: true, feedbackUp: true, feedbackDown: true } });
  return { requests: w._sum.requests ?? 0, up: w._sum.feedbackUp ?? 0, down: w._sum.feedbackDown ?? 0 };
}

beforeAll(async () => {
  seed = await seedDeployable(t.db, { versions: 2 });
  await t.db.projectMember.create({ data: { projectId: seed.projectId, userId: seed.userId, role: "engineer" } });
  const colleague = (await t.db.user.create({ data: { email: `colleague-${randomBytes(3).toString("hex")}@example.test`, role: "engineer" }, select: { id: true } })).id;
  await t.db.projectMember.create({ data: { projectId: seed.projectId, userId: colleague, role: "engineer" } });
  tokens.invoke = await seedToken(t.db, seed.userId, ["inference:invoke"]);
  tokens.invoke2 = await seedToken(t.db, seed.userId, ["inference:invoke"]);
  tokens.pin = await seedToken(t.db, seed.userId, ["inference:invoke", "inference:pin"]);
  tokens.colleague = await seedToken(t.db, colleague, ["inference:invoke", "inference:pin"]);
  ups.push(await startFakeUpstream(0), await startFakeUpstream(0));
  const deps = { db: t.db, queue };
  const [v1, v2] = seed.versions;
  const first = await startDeployment(deps, { runId: v1!.runId, modelVersionId: v1!.id, environmentId: seed.environmentId, endpointName: "ab" });
  await markNewVariantReady(deps, { deploymentId: first.deploymentId, upstreamUrl: ups[0]!.url, detail: "fake" });
  await promoteDeployment(deps, { deploymentId: first.deploymentId, actor: system });
  const second = await startDeployment(deps, { runId: v2!.runId, modelVersionId: v2!.id, environmentId: seed.environmentId, endpointName: "ab", policy: { canary: { stepsBps: [5000, 10000], stepSeconds: 3600 } } });
  await markNewVariantReady(deps, { deploymentId: second.deploymentId, upstreamUrl: ups[1]!.url, detail: "fake" });
  deploymentId = second.deploymentId;
  for (const v of (await findDeploymentById(t.db, deploymentId))!.variants) variantIds[v.role as "stable" | "canary"] = v.id;
  const started = await start();
  gw = started.g;
  base = `http://127.0.0.1:${started.port}`;
});

afterAll(async () => {
  for (const g of gws) await g.close();
  await Promise.all(ups.map((u) => u.close()));
  await queue.close();
});

describe("pinning", () => {
  it("needs the inference:pin scope", async () => {
    const refused = await chat(tokens.invoke, { "x-loraplane-variant": "canary" });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: { param: string } }).error.param).toBe("x-loraplane-variant");
    expect(ups[1]!.requests).toBe(0);
    const pinned = await chat(tokens.pin, { "x-loraplane-variant": "canary" });
    expect(pinned.status).toBe(200);
    expect(pinned.headers.get("x-loraplane-variant")).toBe("canary");
  });

  it("serves pinned traffic but keeps it out of the windows rollouts are analysed on", async () => {
    const before = await windowTotals(variantIds.canary);
    ups[1]!.faults.errorRate = 1;
    // A caller pinning 30 failing requests onto the canary would have rolled it back; they are answered, not counted.
    for (let i = 0; i < 30; i++) expect((await chat(tokens.pin, { "x-loraplane-variant": "canary" })).status).toBe(500);
    ups[1]!.faults.errorRate = 0;
    expect(await windowTotals(variantIds.canary)).toEqual(before);
    // Unpinned traffic is counted as before.
    for (let i = 0; i < 20; i++) await (await chat(tokens.invoke, { "x-user-id": `u-${i}` })).arrayBuffer();
    const after = await windowTotals(variantIds.canary);
    const stable = await windowTotals(variantIds.stable);
    expect(after.requests - before.requests + stable.requests).toBe(20);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(Number(/loraplane_gateway_pinned_requests_total\{endpoint="ab",variant="qwen-zh-v2"\} (\d+)/.exec(metrics)?.[1])).toBeGreaterThanOrEqual(30);
  });
});

describe("feedback", () => {
  it("takes request ids the gateway issued, from the caller that made the request only", async () => {
    const res = await chat(tokens.invoke, { "x-request-id": "chosen-by-client", "x-user-id": "fb-1" });
    await res.arrayBuffer();
    const issued = res.headers.get("x-request-id")!;
    expect(issued).not.toBe("chosen-by-client");
    expect(issued).toMatch(/^[A-Za-z0-9_-]{40,140}$/);
    const variantId = res.headers.get("x-loraplane-variant") === "canary" ? variantIds.canary : variantIds.stable;
    const before = await windowTotals(variantId);
    // An id the client chose, and another member's request, both look unknown.
    expect((await feedback(tokens.invoke, "chosen-by-client")).status).toBe(404);
    const foreign = await feedback(tokens.colleague, issued);
    expect(foreign.status).toBe(404);
    expect(await foreign.json()).toMatchObject({ error: { param: "request_id" } });
    expect((await windowTotals(variantId)).down).toBe(before.down);
    // The same owner with another of their tokens may rate it, once.
    expect((await feedback(tokens.invoke2, issued)).status).toBe(202);
    expect((await feedback(tokens.invoke, issued)).status).toBe(404);
    expect((await windowTotals(variantId)).down).toBe(before.down + 1);
  });

  it("does not count feedback on pinned requests", async () => {
    const res = await chat(tokens.pin, { "x-loraplane-variant": "canary" });
    await res.arrayBuffer();
    const before = await windowTotals(variantIds.canary);
    const fb = await feedback(tokens.pin, res.headers.get("x-request-id"), "up");
    expect(fb.status).toBe(202);
    expect(await fb.json()).toEqual({ accepted: true, counted: false, stored: false });
    expect((await windowTotals(variantIds.canary)).up).toBe(before.up);
  });
});

describe("/metrics", () => {
  it("answers loopback only unless a metrics token is set; with one, only its holders", async () => {
    const external = Object.values(networkInterfaces()).flat().find((a) => a && a.family === "IPv4" && !a.internal)?.address;
    const open = await start({}, "0.0.0.0");
    expect((await fetch(`http://127.0.0.1:${open.port}/metrics`)).status).toBe(200);
    // This machine has a non-loopback address (checked so the test cannot silently pass without one).
    expect(external).toBeDefined();
    const remote = await fetch(`http://${external}:${open.port}/metrics`);
    expect(remote.status).toBe(403);
    expect(await remote.text()).not.toContain("loraplane_gateway_requests_total");

    const guarded = await start({ metricsToken: "metrics-secret-0123456789" }, "0.0.0.0");
    expect((await fetch(`http://127.0.0.1:${guarded.port}/metrics`)).status).toBe(401);
    expect((await fetch(`http://${external}:${guarded.port}/metrics`, { headers: { authorization: "Bearer wrong" } })).status).toBe(401);
    const ok = await fetch(`http://${external}:${guarded.port}/metrics`, { headers: { authorization: "Bearer metrics-secret-0123456789" } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain("loraplane_gateway_inflight_requests");
  });
});

describe("upstream authentication", () => {
  it("never forwards the caller's token upstream, and presents SERVING_API_KEY when one is set", async () => {
    const before = ups.map((u) => u.seenAuthorization.length);
    expect((await chat(tokens.invoke)).status).toBe(200);
    const plain = ups.flatMap((u, i) => u.seenAuthorization.slice(before[i]));
    expect(plain).toEqual([""]);
    const key = "serving-key-0123456789abcdef0123456789";
    const keyed = await start({ upstreamApiKey: key });
    const mark = ups.map((u) => u.seenAuthorization.length);
    const res = await fetch(`http://127.0.0.1:${keyed.port}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${tokens.invoke}` }, body: JSON.stringify({ model: "ab", messages: [] }) });
    expect(res.status).toBe(200);
    const sent = ups.flatMap((u, i) => u.seenAuthorization.slice(mark[i]));
    expect(sent).toEqual([`Bearer ${key}`]);
    expect(sent.join()).not.toContain(tokens.invoke);
  });
});
