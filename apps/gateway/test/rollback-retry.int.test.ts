// Retries before the first byte around a routing change (a rollback or a restore): the variant a request was routed
// to may have left routing by the time its upstream answers, and the gateway applies routing changes asynchronously
// (NOTIFY, then a reload). A request must then end on a variant that serves, not on the one that left.
import { randomBytes } from "node:crypto";
import { findDeploymentById } from "@loraplane/db";
import { seedDeployable, useTestDb } from "@loraplane/db/testing";
import { createPipelineQueue } from "@loraplane/queue";
import { markNewVariantReady, promoteDeployment, startDeployment } from "@loraplane/services";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createLogger } from "../src/log.ts";
import { createGateway, type TGateway } from "../src/server.ts";
import { startFakeUpstream, type TFakeUpstream } from "./fake-upstream.ts";
import { seedToken } from "./seed.ts";

const t = useTestDb("gateway-rollback-retry");
const queue = createPipelineQueue({ connection: { host: "127.0.0.1", port: 6379 }, prefix: `lpq-gwrr-${randomBytes(4).toString("hex")}` });
const deps = () => ({ db: t.db, queue });
const system = { type: "system" as const, userId: null };
const ups: TFakeUpstream[] = [];
let gw: TGateway;
let base = "";
let token = "";
let seed: Awaited<ReturnType<typeof seedDeployable>>;

beforeAll(async () => {
  seed = await seedDeployable(t.db, { versions: 3 });
  await t.db.projectMember.create({ data: { projectId: seed.projectId, userId: seed.userId, role: "engineer" } });
  token = await seedToken(t.db, seed.userId, ["inference:invoke"]);
  // No periodic resync within the test: only NOTIFYs and the proxy's own refresh reload the table.
  gw = createGateway({ db: t.db, databaseUrl: t.url, log: createLogger("silent"), gatewayId: "gw-rr", requireAuth: true, maxBodyBytes: 4096, upstreamTimeoutMs: 3000, flushIntervalMs: 60_000, resyncMs: 600_000 });
  base = `http://127.0.0.1:${await gw.listen(0, "127.0.0.1")}`;
});

afterAll(async () => {
  await gw?.close();
  await Promise.all(ups.map((u) => u.close()));
  await queue.runs.obliterate({ force: true });
  await queue.close();
});

function call(endpoint: string, i: number) {
  return fetch(`${base}/v1/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}`, "x-user-id": `rr-${i}` },
    body: JSON.stringify({ model: endpoint, prompt: "hi" }),
  });
}

async function deploy(version: number, endpoint: string, upstreamUrl: string, policy: unknown = {}) {
  const v = seed.versions[version]!;
  const { deploymentId } = await startDeployment(deps(), { runId: v.runId, modelVersionId: v.id, environmentId: seed.environmentId, endpointName: endpoint, strategy: "canary", policy });
  await markNewVariantReady(deps(), { deploymentId, upstreamUrl, detail: "fake" });
  return deploymentId;
}

it("an upstream that no longer serves the variant (404: its adapter was unloaded) is retried on the other variant", async () => {
  const healthy = await startFakeUpstream(0);
  const unloaded = await startFakeUpstream(0, { errorRate: 1, errorStatus: 404 });
  ups.push(healthy, unloaded);
  const first = await deploy(0, "gone", healthy.url);
  await promoteDeployment(deps(), { deploymentId: first, actor: system });
  await deploy(1, "gone", unloaded.url, { canary: { stepsBps: [5000, 10000], stepSeconds: 3600 } });
  await gw.routing.reload();
  // The token's memberships are cached with it; this project is new to it only on first use.
  const statuses: number[] = [];
  for (let i = 0; i < 30; i++) {
    const res = await call("gone", i);
    await res.arrayBuffer();
    statuses.push(res.status);
    if (res.status === 200) expect(res.headers.get("x-loraplane-variant")).toBe("stable");
  }
  expect(unloaded.requests).toBeGreaterThan(0);
  expect(statuses.filter((s) => s !== 200)).toEqual([]);
});

it("a connection refused on the only variant is retried on the route as Postgres has it now (a NOTIFY not yet applied)", async () => {
  const restored = await startFakeUpstream(0);
  ups.push(restored);
  // The endpoint's one variant is served at a port where nothing listens any more (a process that was replaced)...
  const only = await deploy(2, "moved", "http://127.0.0.1:1");
  await promoteDeployment(deps(), { deploymentId: only, actor: system });
  await gw.routing.reload();
  // ...and the change that moved it has reached Postgres but not this gateway: no NOTIFY is sent here.
  const variant = (await findDeploymentById(t.db, only))!.variants.find((v) => v.role === "canary")!;
  await t.db.deploymentVariant.update({ where: { id: variant.id }, data: { upstreamUrl: restored.url } });
  await new Promise((r) => setTimeout(r, 400));
  const before = gw.routing.loads;
  const res = await call("moved", 0);
  expect(res.status, await res.text()).toBe(200);
  expect(restored.requests).toBe(1);
  expect(gw.routing.loads).toBe(before + 1);
});
