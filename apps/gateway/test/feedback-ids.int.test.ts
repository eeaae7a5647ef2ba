// Request ids carry what feedback needs (deployment, variant, caller, issue time) under a MAC (issue 19 item 3): any
// gateway of the install holding the same key accepts feedback on another's answers, and no gateway keeps anything
// per answered request.
import { randomBytes } from "node:crypto";
import { seedDeployable, useTestDb } from "@loraplane/db/testing";
import { createPipelineQueue } from "@loraplane/queue";
import { markNewVariantReady, promoteDeployment, startDeployment } from "@loraplane/services";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../src/log.ts";
import { createGateway, type TGateway, type TGatewayOptions } from "../src/server.ts";
import { startFakeUpstream, type TFakeUpstream } from "./fake-upstream.ts";
import { seedToken } from "./seed.ts";

const t = useTestDb("gwfeedbackids");
const queue = createPipelineQueue({ connection: { host: "127.0.0.1", port: 6379 }, prefix: `lpq-gwfi-${randomBytes(4).toString("hex")}` });
const system = { type: "system" as const, userId: null };
const KEY = randomBytes(32).toString("base64url");
const gws: TGateway[] = [];
let up: TFakeUpstream;
let seed: Awaited<ReturnType<typeof seedDeployable>>;
let deploymentId = "";
let variantId = "";
const tokens = { owner: "", owner2: "", colleague: "" };
let a: { g: TGateway; base: string };
let b: { g: TGateway; base: string };

async function start(extra: Partial<TGatewayOptions> = {}) {
  const g = createGateway({ db: t.db, databaseUrl: t.url, log: createLogger("silent"), gatewayId: `gw-fi-${gws.length}`, requireAuth: true, maxBodyBytes: 65_536, upstreamTimeoutMs: 5_000, flushIntervalMs: 60_000, resyncMs: 60_000, ...extra });
  gws.push(g);
  return { g, base: `http://127.0.0.1:${await g.listen(0, "127.0.0.1")}` };
}

function chat(base: string, token: string, headers: Record<string, string> = {}) {
  return fetch(`${base}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}`, ...headers },
    body: JSON.stringify({ model: "fb", messages: [{ role: "user", content: "Say three tokens" }] }),
  });
}
async function answeredId(base: string, token = tokens.owner): Promise<string> {
  const res = await chat(base, token);
  expect(res.status).toBe(200);
  await res.arrayBuffer();
  return res.headers.get("x-request-id")!;
}
function feedback(base: string, token: string, requestId: string, rating = "up") {
  return fetch(`${base}/v1/feedback`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${token}` }, body: JSON.stringify({ request_id: requestId, rating }) });
}
async function feedbackOn(g: TGateway, gatewayId: string) {
  await g.flush();
  const w = await t.db.servingWindow.aggregate({ where: { variantId, gatewayId }, _sum: { feedbackUp: true, feedbackDown: true } });
  return { up: w._sum.feedbackUp ?? 0, down: w._sum.feedbackDown ?? 0 };
}
async function expectUnknown(res: Response) {
  expect(res.status).toBe(404);
  expect(await res.json()).toMatchObject({ error: { type: "not_found_error", param: "request_id" } });
}

beforeAll(async () => {
  seed = await seedDeployable(t.db, { versions: 1 });
  await t.db.projectMember.create({ data: { projectId: seed.projectId, userId: seed.userId, role: "engineer" } });
  const colleague = (await t.db.user.create({ data: { email: `colleague-${randomBytes(3).toString("hex")}@example.test`, role: "engineer" }, select: { id: true } })).id;
  await t.db.projectMember.create({ data: { projectId: seed.projectId, userId: colleague, role: "engineer" } });
  tokens.owner = await seedToken(t.db, seed.userId, ["inference:invoke"]);
  tokens.owner2 = await seedToken(t.db, seed.userId, ["inference:invoke"]);
  tokens.colleague = await seedToken(t.db, colleague, ["inference:invoke"]);
  up = await startFakeUpstream(0, { tokens: 3 });
  const v = seed.versions[0]!;
  const deps = { db: t.db, queue };
  ({ deploymentId } = await startDeployment(deps, { runId: v.runId, modelVersionId: v.id, environmentId: seed.environmentId, endpointName: "fb", strategy: "canary", policy: {} }));
  await markNewVariantReady(deps, { deploymentId, upstreamUrl: up.url, detail: "fake upstream" });
  await promoteDeployment(deps, { deploymentId, actor: system });
  variantId = (await t.db.deploymentVariant.findFirstOrThrow({ where: { deploymentId }, select: { id: true } })).id;
  a = await start({ feedbackKey: KEY });
  b = await start({ feedbackKey: KEY });
});

afterAll(async () => {
  for (const g of gws) await g.close();
  await up?.close();
  await queue.runs.obliterate({ force: true });
  await queue.close();
});

describe("signed request ids", () => {
  it("are short, URL and header safe, and begin with the id the upstream saw", async () => {
    const id = await answeredId(a.base);
    expect(id).toMatch(/^[A-Za-z0-9_-]{40,140}$/);
    expect(id.startsWith(up.seenRequestIds.at(-1)!)).toBe(true);
    expect(up.seenRequestIds.at(-1)).toHaveLength(12);
    expect(await answeredId(a.base)).not.toBe(id);
  });

  it("another gateway of the install (same key) accepts feedback on an answer it did not give, once, counted on the variant that served it", async () => {
    const id = await answeredId(a.base);
    const before = await feedbackOn(b.g, "gw-fi-1");
    const fb = await feedback(b.base, tokens.owner2, id);
    expect(fb.status).toBe(202);
    expect(await fb.json()).toEqual({ accepted: true, counted: true, stored: false });
    expect(await feedbackOn(b.g, "gw-fi-1")).toEqual({ up: before.up + 1, down: before.down });
    // Once: the same id again, even with the other token of the same owner, is unknown.
    await expectUnknown(await feedback(b.base, tokens.owner, id));
    expect(await feedbackOn(b.g, "gw-fi-1")).toEqual({ up: before.up + 1, down: before.down });
  });

  it("refuses a tampered id, another caller's id, an id signed with another key and an expired one like an unknown id (404)", async () => {
    const id = await answeredId(a.base);
    const before = await feedbackOn(b.g, "gw-fi-1");
    // Every position matters: flip one character in the issue time, the variant and the MAC.
    for (const at of [14, Math.floor(id.length / 2), id.length - 2]) {
      const c = id[at] === "A" ? "B" : "A";
      await expectUnknown(await feedback(b.base, tokens.owner, id.slice(0, at) + c + id.slice(at + 1)));
    }
    await expectUnknown(await feedback(b.base, tokens.owner, id.slice(0, -1)));
    await expectUnknown(await feedback(b.base, tokens.colleague, id));
    // A gateway with its own key (no GATEWAY_FEEDBACK_KEY, no SERVING_API_KEY) knows only its own answers, as before.
    const lone = await start();
    await expectUnknown(await feedback(lone.base, tokens.owner, id));
    expect((await feedback(lone.base, tokens.owner, await answeredId(lone.base))).status).toBe(202);
    // Expired: a gateway whose ids may be rated for one second (the limit is the checking gateway's own).
    const short = await start({ feedbackKey: KEY, feedbackMaxAgeS: 1 });
    const old = await answeredId(short.base);
    await new Promise((r) => setTimeout(r, 2_100));
    await expectUnknown(await feedback(short.base, tokens.owner, old));
    expect(await feedbackOn(b.g, "gw-fi-1")).toEqual(before);
    // The genuine id still works after all that.
    expect((await feedback(b.base, tokens.owner, id)).status).toBe(202);
  });

  it("gateways sharing SERVING_API_KEY and no GATEWAY_FEEDBACK_KEY accept each other's ids", async () => {
    const servingKey = randomBytes(24).toString("base64url");
    const c = await start({ upstreamApiKey: servingKey });
    const d = await start({ upstreamApiKey: servingKey });
    const id = await answeredId(c.base);
    expect((await feedback(d.base, tokens.owner, id)).status).toBe(202);
    // The derived key is not the serving key itself.
    const e = await start({ feedbackKey: servingKey.padEnd(32, "x") });
    await expectUnknown(await feedback(e.base, tokens.owner, await answeredId(c.base)));
  });

  it("an answer that failed carries an id feedback refuses", async () => {
    up.faults.errorRate = 1;
    up.faults.errorStatus = 400;
    try {
      const res = await chat(a.base, tokens.owner);
      expect(res.status).toBe(400);
      await res.arrayBuffer();
      const id = res.headers.get("x-request-id")!;
      expect(id).toBeTruthy();
      await expectUnknown(await feedback(a.base, tokens.owner, id));
    } finally {
      up.faults.errorRate = 0;
    }
  });

  it("keeps nothing per answered request: only ids that were rated are remembered (to refuse a second rating)", async () => {
    const g = await start({ feedbackKey: KEY });
    for (let i = 0; i < 200; i++) await answeredId(g.base);
    expect(g.g.feedbackIds.remembered).toBe(0);
    const id = await answeredId(g.base);
    expect((await feedback(g.base, tokens.owner, id)).status).toBe(202);
    expect(g.g.feedbackIds.remembered).toBe(1);
  });

  it("a rating given at another gateway reaches the interaction the answering gateway stores, whichever flushes first", async () => {
    await t.db.environment.update({ where: { id: seed.environmentId }, data: { captureFeedbackData: true } });
    await Promise.all([a.g.routing.reload(), b.g.routing.reload()]);
    try {
      const id = await answeredId(a.base);
      const fb = await feedback(b.base, tokens.owner, id, "down");
      expect(fb.status).toBe(202);
      expect(await fb.json()).toEqual({ accepted: true, counted: true, stored: true });
      // B writes first: the row is not there yet, so the rating waits for it.
      await b.g.flush();
      await a.g.flush();
      await b.g.flush();
      expect(await t.db.interaction.findUnique({ where: { requestId: id }, select: { rating: true, deploymentId: true } })).toEqual({ rating: "down", deploymentId });
    } finally {
      await t.db.environment.update({ where: { id: seed.environmentId }, data: { captureFeedbackData: false } });
      await Promise.all([a.g.routing.reload(), b.g.routing.reload()]);
    }
  });
});
