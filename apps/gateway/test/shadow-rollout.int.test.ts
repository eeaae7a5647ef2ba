// Shadow evaluation through the real gateway, with the rollout decisions of @loraplane/services (what the workers'
// rollout controller calls every tick) and a fake model server that counts, per served model, the requests it got from
// clients and the mirrored copies (x-loraplane-shadow: 1). A candidate that answers like the stable passes the shadow
// gate, then canaries and is promoted; one that answers differently is stopped at the gate, and the model server's
// own counters show it never answered a client request.
import { randomBytes } from "node:crypto";
import { findDeploymentById, listShadowSamples } from "@loraplane/db";
import { seedDeployable, useTestDb } from "@loraplane/db/testing";
import { createPipelineQueue } from "@loraplane/queue";
import { analyseDeployment, getShadowResults, markNewVariantReady, promoteDeployment, startDeployment } from "@loraplane/services";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createLogger } from "../src/log.ts";
import { createGateway, type TGateway } from "../src/server.ts";
import { startFakeUpstream, type TFakeUpstream } from "./fake-upstream.ts";
import { seedToken } from "./seed.ts";

const t = useTestDb("gateway-shadow");
const queue = createPipelineQueue({ connection: { host: "127.0.0.1", port: 6379 }, prefix: `lpq-gwsh-${randomBytes(4).toString("hex")}` });
const deps = () => ({ db: t.db, queue });
const system = { type: "system" as const, userId: null };
let gw: TGateway;
let up: TFakeUpstream;
let base = "";
let token = "";
let seed: Awaited<ReturnType<typeof seedDeployable>>;
const ENDPOINT = "shadowed";
const SHADOW = { enabled: true, fraction: 1, minSamples: 20, minAgreement: 0.7, maxRefusalRate: 0.1, maxLatencyP99Ms: 5_000, maxConcurrent: 64, maxStoredSamples: 100 };
const POLICY = { shadow: SHADOW, canary: { stepsBps: [5_000, 10_000], stepSeconds: 1, minRequests: 5 }, minRequestsForRollback: 5 };

beforeAll(async () => {
  seed = await seedDeployable(t.db, { versions: 4 });
  await t.db.projectMember.create({ data: { projectId: seed.projectId, userId: seed.userId, role: "engineer" } });
  token = await seedToken(t.db, seed.userId, ["inference:invoke"]);
  up = await startFakeUpstream(0);
  // Stable (v1) and the good candidate (v2) answer alike; v3 answers something else entirely.
  const capital = (p: string) => `the answer to ${p} is the capital city of france which is paris`;
  up.answers.set("qwen-zh-v1", capital);
  up.answers.set("qwen-zh-v2", (p) => `${capital(p)} indeed`);
  up.answers.set("qwen-zh-v3", () => "bananas are yellow and grow in tropical climates near the sea");
  gw = createGateway({ db: t.db, databaseUrl: t.url, log: createLogger("silent"), gatewayId: "gw-sh", requireAuth: true, maxBodyBytes: 8192, upstreamTimeoutMs: 5000, flushIntervalMs: 60_000, resyncMs: 600_000 });
  base = `http://127.0.0.1:${await gw.listen(0, "127.0.0.1")}`;
});

afterAll(async () => {
  await gw?.close();
  await up?.close();
  await queue.runs.obliterate({ force: true });
  await queue.close();
});

async function deploy(version: number, policy: unknown) {
  const v = seed.versions[version]!;
  const { deploymentId } = await startDeployment(deps(), { runId: v.runId, modelVersionId: v.id, environmentId: seed.environmentId, endpointName: ENDPOINT, strategy: "canary", policy });
  await markNewVariantReady(deps(), { deploymentId, upstreamUrl: up.url, detail: "fake" });
  await gw.routing.reload();
  return deploymentId;
}

/** n client requests (half streamed, half chat); returns the variant roles that answered them. */
async function traffic(n: number): Promise<string[]> {
  const roles: string[] = [];
  for (let i = 0; i < n; i++) {
    const stream = i % 2 === 1;
    const chat = i % 3 === 0;
    const res = await fetch(`${base}/v1/${chat ? "chat/completions" : "completions"}`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}`, "x-user-id": `u-${i}` },
      body: JSON.stringify(chat ? { model: ENDPOINT, messages: [{ role: "user", content: `question ${i}` }], stream } : { model: ENDPOINT, prompt: `question ${i}`, stream }),
    });
    const text = await res.text();
    expect(res.status, text).toBe(200);
    roles.push(res.headers.get("x-loraplane-variant")!);
  }
  // Mirrored copies finish after the client's answers: wait for them, then write their pairs.
  for (let i = 0; i < 200 && gw.shadow.inFlight > 0; i++) await new Promise((r) => setTimeout(r, 25));
  await gw.flush();
  return roles;
}

async function analyse(deploymentId: string) {
  const d = (await findDeploymentById(t.db, deploymentId))!;
  return analyseDeployment(deps(), d);
}

it("a candidate that agrees with the stable passes the shadow gate, then canaries and is promoted", { timeout: 60_000 }, async () => {
  const stable = await deploy(0, {});
  await promoteDeployment(deps(), { deploymentId: stable, actor: system });
  const id = await deploy(1, POLICY);
  expect((await findDeploymentById(t.db, id))!.variants.find((v) => v.role === "canary")!.weightBps).toBe(0);

  expect((await analyse(id)).decision.action).toBe("wait"); // no pairs yet
  const roles = await traffic(24);
  expect(new Set(roles)).toEqual(new Set(["stable"]));
  // The model server saw the candidate's mirrored copies only.
  expect(up.byModel.get("qwen-zh-v2")).toEqual({ client: 0, shadow: 24 });
  const samples = await listShadowSamples(t.db, id);
  expect(samples).toHaveLength(24);
  expect(samples.every((s) => s.rougeL > 0.9 && s.candidateText!.endsWith("indeed") && s.stableText.includes("paris"))).toBe(true);
  expect(samples.filter((s) => s.candidateTtftMs !== null && s.stableTtftMs !== null).length).toBe(24);

  const gate = await analyse(id);
  expect(gate.decision).toMatchObject({ action: "advance", weightBps: 5_000, reason: expect.stringMatching(/^shadow gate passed: 24 pairs, agreement \(ROUGE-L\) 0\.9/) });
  await gw.routing.reload();
  const canaryRoles = await traffic(30);
  expect(canaryRoles).toContain("canary");
  expect(await listShadowSamples(t.db, id)).toHaveLength(24); // no more mirroring once the canary takes traffic
  await new Promise((r) => setTimeout(r, 1_100));
  expect((await analyse(id)).decision.action).toBe("promote");
  expect((await findDeploymentById(t.db, id))!.state).toBe("promoted");
  const results = await getShadowResults(t.db, id);
  expect(results!.gate).toMatchObject({ decision: "passed" });
});

it("a candidate that disagrees on most mirrored requests is stopped at the shadow gate without serving one client request", { timeout: 60_000 }, async () => {
  const id = await deploy(2, POLICY);
  const roles = await traffic(24);
  expect(roles.filter((r) => r !== "stable")).toEqual([]);
  const gate = await analyse(id);
  expect(gate.decision).toMatchObject({ action: "rollback", reason: expect.stringMatching(/^shadow gate failed: agreement_rouge_l 0\.0\d\d < 0\.700/) });
  const d = (await findDeploymentById(t.db, id))!;
  expect(d.state).toBe("rolled_back");
  expect(d.reason).toMatch(/shadow gate failed/);
  // From the model server's own counters: copies only, not a single client request.
  expect(up.byModel.get("qwen-zh-v3")).toEqual({ client: 0, shadow: 24 });
  // After the rollback nothing is mirrored to it any more, and the stable serves on.
  await gw.routing.reload();
  expect(new Set(await traffic(6))).toEqual(new Set(["stable"]));
  expect(up.byModel.get("qwen-zh-v3")).toEqual({ client: 0, shadow: 24 });
  const results = (await getShadowResults(t.db, id))!;
  expect(results.summary.samples).toBe(24);
  expect(results.gate).toMatchObject({ decision: "failed" });
  expect(results.disagreements.length).toBeGreaterThan(0);
  expect(results.disagreements[0]!.candidateText).toMatch(/bananas/);
});

it("saturated: copies beyond maxConcurrent are dropped, never queued, and the client is unaffected", { timeout: 30_000 }, async () => {
  // A fresh route in its shadow phase with one mirror slot and a slow candidate.
  const text = await (await gw.registry.getSingleMetric("loraplane_gateway_shadow_requests_total")!.get()).values;
  const dropped0 = text.find((v) => v.labels.outcome === "dropped")?.value ?? 0;
  const slow = await startFakeUpstream(0, { latencyMs: 400 });
  try {
    const v = seed.versions[3]!;
    const { deploymentId } = await startDeployment(deps(), { runId: v.runId, modelVersionId: v.id, environmentId: seed.environmentId, endpointName: ENDPOINT, strategy: "canary", policy: { ...POLICY, shadow: { ...SHADOW, maxConcurrent: 1 } } });
    await markNewVariantReady(deps(), { deploymentId, upstreamUrl: slow.url, detail: "fake slow" });
    await gw.routing.reload();
    await Promise.all(Array.from({ length: 6 }, (_, i) => fetch(`${base}/v1/completions`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${token}` }, body: JSON.stringify({ model: ENDPOINT, prompt: `p${i}` }) }).then((r) => r.text())));
    const after = (await gw.registry.getSingleMetric("loraplane_gateway_shadow_requests_total")!.get()).values;
    expect((after.find((x) => x.labels.outcome === "dropped")?.value ?? 0) - dropped0).toBeGreaterThanOrEqual(1);
    for (let i = 0; i < 100 && gw.shadow.inFlight > 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(slow.byModel.get("qwen-zh-v4")?.client ?? 0).toBe(0);
    expect(slow.byModel.get("qwen-zh-v4")!.shadow).toBeLessThan(6);
  } finally {
    await slow.close();
  }
});
