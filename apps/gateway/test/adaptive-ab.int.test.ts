// Adaptive A/B through the real gateway: variant a's model server fails 15% of its requests, b's 2%. Each tick
// the gateway's windows are written and the A/B analysis of @loraplane/services (what the workers' rollout controller
// runs) recomputes the split by Thompson sampling; the recorded weights move towards b, a sticky user keeps its variant
// through the moves, and the experiment ends on b once P(b best) >= 0.95 (promoted: autoDecide, no freeze).
import { randomBytes } from "node:crypto";
import { findDeploymentById } from "@loraplane/db";
import { seedDeployable, useTestDb } from "@loraplane/db/testing";
import { createPipelineQueue } from "@loraplane/queue";
import { analyseDeployment, markNewVariantReady, promoteDeployment, startDeployment } from "@loraplane/services";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createLogger } from "../src/log.ts";
import { createGateway, type TGateway } from "../src/server.ts";
import { startFakeUpstream, type TFakeUpstream } from "./fake-upstream.ts";
import { seedToken } from "./seed.ts";

const t = useTestDb("gateway-adaptive-ab");
const queue = createPipelineQueue({ connection: { host: "127.0.0.1", port: 6379 }, prefix: `lpq-gwab-${randomBytes(4).toString("hex")}` });
const deps = () => ({ db: t.db, queue });
let gw: TGateway;
let worse: TFakeUpstream;
let better: TFakeUpstream;
let base = "";
let token = "";

beforeAll(async () => {
  worse = await startFakeUpstream(0);
  better = await startFakeUpstream(0, { errorRate: 0.02, errorStatus: 500 });
  gw = createGateway({ db: t.db, databaseUrl: t.url, log: createLogger("silent"), gatewayId: "gw-ab", requireAuth: true, maxBodyBytes: 4096, upstreamTimeoutMs: 5000, flushIntervalMs: 60_000, resyncMs: 600_000 });
  base = `http://127.0.0.1:${await gw.listen(0, "127.0.0.1")}`;
});

afterAll(async () => {
  await gw?.close();
  await Promise.all([worse?.close(), better?.close()]);
  await queue.runs.obliterate({ force: true });
  await queue.close();
});

it("allocation moves towards the better variant during the run and the experiment ends on it", { timeout: 120_000 }, async () => {
  const seed = await seedDeployable(t.db, { versions: 2 });
  await t.db.projectMember.create({ data: { projectId: seed.projectId, userId: seed.userId, role: "engineer" } });
  token = await seedToken(t.db, seed.userId, ["inference:invoke"]);
  const [v1, v2] = seed.versions;
  const first = await startDeployment(deps(), { runId: v1!.runId, modelVersionId: v1!.id, environmentId: seed.environmentId, endpointName: "adaptive" });
  await markNewVariantReady(deps(), { deploymentId: first.deploymentId, upstreamUrl: worse.url, detail: "fake" });
  await promoteDeployment(deps(), { deploymentId: first.deploymentId, actor: { type: "system", userId: null } });
  // From here on a (the stable, v1) fails 15% of requests: a fault on its serving side.
  worse.faults.errorRate = 0.15;
  worse.faults.errorStatus = 500;
  const { deploymentId } = await startDeployment(deps(), {
    runId: v2!.runId,
    modelVersionId: v2!.id,
    environmentId: seed.environmentId,
    endpointName: "adaptive",
    strategy: "ab",
    policy: {
      slo: { errorRate: 0.5, p99LatencyMs: 60_000, ttftP95Ms: 60_000 },
      ab: { splitBps: 5_000, minSamplesPerVariant: 60, autoDecide: true, allocation: { mode: "thompson", metric: "success", floorBps: 1_000, confidence: 0.95 } },
    },
  });
  await markNewVariantReady(deps(), { deploymentId, upstreamUrl: better.url, detail: "fake" });
  await gw.routing.reload();

  const shareOfB: number[] = [];
  const aliceSaw = new Set<string>();
  let state = "progressing";
  for (let tick = 0; tick < 30 && state === "progressing"; tick++) {
    const roles = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const res = await fetch(`${base}/v1/completions`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${token}`, "x-user-id": `t${tick}-u${i}` },
          body: JSON.stringify({ model: "adaptive", prompt: "hi" }),
        });
        await res.arrayBuffer();
        return res.headers.get("x-loraplane-variant");
      }),
    );
    shareOfB.push(roles.filter((r) => r === "b").length / roles.length);
    const alice = await fetch(`${base}/v1/completions`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${token}`, "x-user-id": "alice" }, body: JSON.stringify({ model: "adaptive", prompt: "hi" }) });
    await alice.arrayBuffer();
    aliceSaw.add(alice.headers.get("x-loraplane-variant")!);
    await gw.flush();
    const d = (await findDeploymentById(t.db, deploymentId))!;
    await analyseDeployment(deps(), d);
    await gw.routing.reload();
    state = (await findDeploymentById(t.db, deploymentId))!.state;
  }
  const events = await t.db.rolloutEvent.findMany({ where: { deploymentId }, orderBy: { createdAt: "asc" }, select: { type: true, weights: true, reason: true, analysis: true } });
  const reweights = events.filter((e) => e.type === "reweight").map((e) => (e.weights as { b: number }).b);
  console.info(`adaptive A/B: b weights over time ${[5_000, ...reweights].join(" → ")}; b's share of requests per tick ${shareOfB.map((s) => s.toFixed(2)).join(" ")}; ended ${state}`);
  expect(state).toBe("promoted");
  // The split moved during the run, towards b, and never past the floor left to a.
  expect(reweights.length).toBeGreaterThan(0);
  expect(Math.max(...reweights)).toBeGreaterThan(5_000);
  expect(Math.max(...reweights)).toBeLessThanOrEqual(9_000);
  // What the gateway did follows: b served more of the later traffic than of the first tick's.
  expect(shareOfB.slice(-1)[0]!).toBeGreaterThan(0.5);
  // A sticky user stays on the variant it was first given, whatever the split did.
  expect(aliceSaw.size).toBe(1);
  const promote = events.find((e) => e.type === "promote")!;
  expect(promote.reason).toMatch(/^b is best with P (0\.9\d+|1\.000) >= 0\.95/);
  expect((promote.analysis as { adaptive: { pBest: { b: number } } }).adaptive.pBest.b).toBeGreaterThanOrEqual(0.95);
});
