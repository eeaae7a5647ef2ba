// Outbound webhooks against real HTTP receivers on loopback and a real Postgres outbox: signatures a receiver can
// verify, retries with backoff, no redirects, SSRF refusals, secret rotation, disabling, Slack/Teams shapes, and
// the run events the engine queues.
import type { lookup } from "node:dns/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { enqueueWebhookDeliveries } from "@loraplane/db";
import { useTestDb } from "@loraplane/db/testing";
import {
  createWebhookSubscription,
  deliverDueWebhooks,
  enableWebhook,
  listDeliveries,
  parseWebhookAllowlist,
  redeliverWebhook,
  resolveWebhookTarget,
  rotateWebhookSecret,
  verifyWebhookSignature,
  type TWebhookDeliveryOptions,
} from "@loraplane/services";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWebhookDeliveryLoop } from "../../src/webhooks/delivery-loop.ts";

const t = useTestDb("webhooks");
const SECRET_KEY = "k".repeat(40);
const ADMIN = { type: "user" as const, userId: null };
const loopbackOnly = parseWebhookAllowlist(["127.0.0.1/32"]);

interface TReceived {
  headers: http.IncomingHttpHeaders;
  body: string;
  at: number;
}

/** A receiver that answers each request with the next scripted status (the last one repeats). */
async function receiver(statuses: number[], opts: { location?: string; hang?: boolean } = {}) {
  const received: TReceived[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      received.push({ headers: req.headers, body, at: Date.now() });
      if (opts.hang) return;
      const status = statuses[Math.min(received.length - 1, statuses.length - 1)]!;
      res.writeHead(status, opts.location ? { location: opts.location } : {}).end(status >= 400 ? `boom ${received.length}` : "ok");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received, close: () => new Promise<void>((r) => server.close(() => r())) };
}

let projectId = "";
const servers: { close(): Promise<void> }[] = [];
const opts = (o: Partial<TWebhookDeliveryOptions> = {}): TWebhookDeliveryOptions => ({
  secretKey: SECRET_KEY,
  allowlist: loopbackOnly,
  dashboardUrl: "http://lp.test",
  retry: { maxAttempts: 4, baseDelayMs: 40, maxDelayMs: 400 },
  timeoutMs: 2000,
  random: () => 0.5,
  ...o,
});

async function subscribe(url: string, events: string[], format?: "standard" | "slack" | "teams") {
  return createWebhookSubscription(t.db, SECRET_KEY, projectId, { url, events, ...(format ? { format } : {}) }, ADMIN, {}, loopbackOnly);
}

/** Runs delivery passes until nothing is pending for the subscription or the deadline passes. */
async function drain(subscriptionId: string, o: TWebhookDeliveryOptions, ms = 5000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    await deliverDueWebhooks(t.db, o);
    const pending = await t.db.webhookDelivery.count({ where: { subscriptionId, status: "pending" } });
    if (pending === 0) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  projectId = (await t.db.project.create({ data: { slug: "hooks", name: "Hooks" } })).id;
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

describe("outbound webhooks", () => {
  it("signs with Standard Webhooks headers, retries 500s with growing delays and keeps one webhook-id", async () => {
    const r = await receiver([500, 500, 204]);
    servers.push(r);
    const { subscription, secret } = await subscribe(r.url, ["run.succeeded"]);
    await enqueueWebhookDeliveries(t.db, projectId, "run.succeeded", "run.succeeded.r1", { runId: "r1", status: "succeeded" });
    await drain(subscription.id, opts());

    expect(r.received).toHaveLength(3);
    for (const got of r.received) expect(verifyWebhookSignature(secret!, got.headers as Record<string, string>, got.body)).toBe(true);
    expect(verifyWebhookSignature("whsec_wrong", r.received[0]!.headers as Record<string, string>, r.received[0]!.body)).toBe(false);
    expect(new Set(r.received.map((x) => x.headers["webhook-id"]))).toEqual(new Set(["run.succeeded.r1"]));
    expect(JSON.parse(r.received[0]!.body)).toMatchObject({ type: "run.succeeded", data: { runId: "r1" } });
    // Backoff with jitter 0.5: 30 ms then 60 ms at least between attempts.
    expect(r.received[1]!.at - r.received[0]!.at).toBeGreaterThanOrEqual(25);
    expect(r.received[2]!.at - r.received[1]!.at).toBeGreaterThanOrEqual(55);

    const { items } = await listDeliveries(t.db, subscription.id, 10);
    expect(items[0]).toMatchObject({ status: "succeeded", attempts: 3, lastStatusCode: 204 });
    expect(items[0]!.lastRequest).toContain("webhook-signature: v1,…");
    expect(items[0]!.lastRequest).not.toContain(secret!);
  });

  it("gives up after the last attempt, keeps the response excerpt, and redelivers on request", async () => {
    const r = await receiver([503]);
    servers.push(r);
    const { subscription } = await subscribe(r.url, ["run.failed"]);
    await enqueueWebhookDeliveries(t.db, projectId, "run.failed", "run.failed.r2", { runId: "r2", reason: "train failed" });
    await drain(subscription.id, opts());
    expect(r.received).toHaveLength(4);
    const [d] = (await listDeliveries(t.db, subscription.id, 10)).items;
    expect(d).toMatchObject({ status: "failed", attempts: 4, lastStatusCode: 503, lastError: "HTTP 503", lastResponse: "boom 4" });

    await redeliverWebhook(t.db, d!.id, ADMIN);
    await expect(redeliverWebhook(t.db, d!.id, ADMIN)).rejects.toThrow(/already queued/);
    await deliverDueWebhooks(t.db, opts({ retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 } }));
    expect(r.received).toHaveLength(5);
    expect(r.received[4]!.headers["webhook-id"]).toBe("run.failed.r2");
  });

  it("does not follow redirects and times out a receiver that never answers", async () => {
    const target = await receiver([200]);
    const redirect = await receiver([302], { location: target.url });
    const hang = await receiver([200], { hang: true });
    servers.push(target, redirect, hang);
    const a = await subscribe(redirect.url, ["run.blocked"]);
    const b = await subscribe(hang.url, ["run.blocked"]);
    await enqueueWebhookDeliveries(t.db, projectId, "run.blocked", "run.blocked.r3", { runId: "r3", reason: "rouge_l = 0.3, needs >= 0.45" });
    await deliverDueWebhooks(t.db, opts({ timeoutMs: 300, retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 } }));
    expect(target.received).toHaveLength(0);
    expect((await listDeliveries(t.db, a.subscription.id, 1)).items[0]).toMatchObject({ status: "failed", lastStatusCode: 302, lastError: "HTTP 302 (redirects are not followed)" });
    expect((await listDeliveries(t.db, b.subscription.id, 1)).items[0]).toMatchObject({ status: "failed", lastStatusCode: null, lastError: "no answer within 300 ms" });
  });

  it("refuses private, loopback, link-local and metadata addresses before and after DNS", async () => {
    const none = parseWebhookAllowlist([]);
    for (const url of ["http://127.0.0.1:6379/", "http://169.254.169.254/latest/meta-data", "http://10.1.2.3/", "http://[::1]:8080/", "http://[::ffff:192.168.0.1]/", "http://0.0.0.0/", "ftp://example.com/"]) {
      await expect(resolveWebhookTarget(url, none), url).rejects.toThrow(/^url: /);
    }
    const fakeDns = (async () => [{ address: "10.0.0.7", family: 4 }]) as unknown as typeof lookup;
    await expect(resolveWebhookTarget("https://hooks.internal.example/x", none, fakeDns)).rejects.toThrow(/resolves to 10\.0\.0\.7/);
    await expect(resolveWebhookTarget("https://hooks.internal.example/x", parseWebhookAllowlist(["hooks.internal.example"]), fakeDns)).resolves.toMatchObject({ address: "10.0.0.7" });
    const publicDns = (async () => [{ address: "93.184.215.14", family: 4 }]) as unknown as typeof lookup;
    await expect(resolveWebhookTarget("https://example.com/hook", none, publicDns)).resolves.toMatchObject({ address: "93.184.215.14", family: 4 });

    // Creation refuses without the operator's allowlist ...
    await expect(createWebhookSubscription(t.db, SECRET_KEY, projectId, { url: "http://127.0.0.1:6379/", events: ["run.failed"] }, ADMIN)).rejects.toMatchObject({ status: 400 });
    // ... and a subscription whose address became private (allowlist removed, DNS changed) fails at once, sending nothing.
    const r = await receiver([200]);
    servers.push(r);
    const { subscription } = await subscribe(r.url, ["deployment.promoted"]);
    await enqueueWebhookDeliveries(t.db, projectId, "deployment.promoted", "deployment.promoted.d1", { deploymentId: "d1" });
    await deliverDueWebhooks(t.db, opts({ allowlist: none }));
    expect(r.received).toHaveLength(0);
    const [d] = (await listDeliveries(t.db, subscription.id, 1)).items;
    expect(d).toMatchObject({ status: "failed", attempts: 1 });
    expect(d!.lastError).toMatch(/private, loopback or link-local/);
  });

  it("signs with both secrets during a rotation", async () => {
    const r = await receiver([200]);
    servers.push(r);
    const { subscription, secret: oldSecret } = await subscribe(r.url, ["model_version.registered"]);
    const { secret: newSecret } = await rotateWebhookSecret(t.db, SECRET_KEY, subscription.id, 24, ADMIN);
    await enqueueWebhookDeliveries(t.db, projectId, "model_version.registered", "mv.1", { modelName: "m", version: 1 });
    await drain(subscription.id, opts());
    const got = r.received[0]!;
    expect((got.headers["webhook-signature"] as string).split(" ")).toHaveLength(2);
    expect(verifyWebhookSignature(oldSecret!, got.headers as Record<string, string>, got.body)).toBe(true);
    expect(verifyWebhookSignature(newSecret, got.headers as Record<string, string>, got.body)).toBe(true);
  });

  it("disables a subscription after repeated exhausted deliveries, audited, and can enable it again", async () => {
    const r = await receiver([500]);
    servers.push(r);
    const { subscription } = await subscribe(r.url, ["run.cancelled"]);
    const o = opts({ retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 }, disableAfterFailures: 2 });
    for (const id of ["c1", "c2"]) {
      await enqueueWebhookDeliveries(t.db, projectId, "run.cancelled", `run.cancelled.${id}`, { runId: id });
      await deliverDueWebhooks(t.db, o);
    }
    const sub = await t.db.webhookSubscription.findUniqueOrThrow({ where: { id: subscription.id } });
    expect(sub.active).toBe(false);
    expect(sub.disabledReason).toMatch(/disabled after 2 deliveries in a row failed/);
    expect(await t.db.auditLog.count({ where: { action: "webhook.disable", subjectId: subscription.id } })).toBe(1);
    // Disabled: new events are not queued for it.
    expect(await enqueueWebhookDeliveries(t.db, projectId, "run.cancelled", "run.cancelled.c3", { runId: "c3" })).toBe(0);
    await enableWebhook(t.db, subscription.id, ADMIN);
    expect(await enqueueWebhookDeliveries(t.db, projectId, "run.cancelled", "run.cancelled.c4", { runId: "c4" })).toBe(1);
  });

  it("renders Slack and Teams incoming-webhook payloads with a link to the approval", async () => {
    const slack = await receiver([200]);
    const teams = await receiver([200]);
    servers.push(slack, teams);
    const s = await subscribe(slack.url, ["approval.requested"], "slack");
    const m = await subscribe(teams.url, ["approval.requested"], "teams");
    await enqueueWebhookDeliveries(t.db, projectId, "approval.requested", "approval.requested.a1", { approvalId: "a1", environment: "prod", summary: "Deploy demo v2 to prod" });
    const loop = startWebhookDeliveryLoop(t.db, pino({ level: "silent" }), { ...opts(), intervalMs: 60_000 });
    await loop.tick();
    await loop.stop();
    expect(s.subscription.format).toBe("slack");
    const sb = JSON.parse(slack.received[0]!.body) as { text: string; blocks: { type: string; elements?: { url: string }[] }[] };
    expect(sb.text).toBe("Approval needed: Deploy demo v2 to prod");
    expect(sb.blocks.find((b) => b.type === "actions")!.elements![0]!.url).toBe("http://lp.test/approvals?id=a1");
    const tb = JSON.parse(teams.received[0]!.body) as { type: string; attachments: { contentType: string; content: { type: string; actions: { url: string }[] } }[] };
    expect(m.subscription.format).toBe("teams");
    expect(tb.type).toBe("message");
    expect(tb.attachments[0]!.contentType).toBe("application/vnd.microsoft.card.adaptive");
    expect(tb.attachments[0]!.content.actions[0]!.url).toBe("http://lp.test/approvals?id=a1");
  });

  it("a delivery claimed by a worker that died is sent again after its lease (at least once), never twice at once", async () => {
    const r = await receiver([200]);
    servers.push(r);
    const { subscription } = await subscribe(r.url, ["deployment.rolled_back"]);
    await enqueueWebhookDeliveries(t.db, projectId, "deployment.rolled_back", "rb.1", { deploymentId: "d9" });
    // Two workers race: exactly one claims it.
    const { claimDueWebhookDeliveries } = await import("@loraplane/db");
    const [a, b] = await Promise.all([claimDueWebhookDeliveries(t.db, 10, 150), claimDueWebhookDeliveries(t.db, 10, 150)]);
    expect([...a, ...b].filter((d) => d.eventId === "rb.1")).toHaveLength(1);
    // The claimer "dies" before sending: after the lease the row is due again and gets delivered.
    await new Promise((res) => setTimeout(res, 200));
    await drain(subscription.id, opts());
    expect(r.received).toHaveLength(1);
    expect((await listDeliveries(t.db, subscription.id, 1)).items[0]).toMatchObject({ status: "succeeded", attempts: 2 });
  });
});
