// Shutdown while clients keep their connections busy (a rolling restart under load): close() must finish draining in
// about the time of the requests in flight, not wait for keep-alive clients to go away on their own. Before this test,
// a client reusing its connection back to back kept the gateway from closing for as long as it sent (`npm run demo`'s
// Ctrl-C ran into the supervisor's 20 s kill).
import http from "node:http";
import { performance } from "node:perf_hooks";
import { randomBytes } from "node:crypto";
import { seedDeployable, useTestDb } from "@loraplane/db/testing";
import { createPipelineQueue } from "@loraplane/queue";
import { markNewVariantReady, promoteDeployment, startDeployment } from "@loraplane/services";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createLogger } from "../src/log.ts";
import { createGateway, type TGateway } from "../src/server.ts";
import { startFakeUpstream, type TFakeUpstream } from "./fake-upstream.ts";
import { seedToken } from "./seed.ts";

const t = useTestDb("gwdrain");
const queue = createPipelineQueue({ connection: { host: "127.0.0.1", port: 6379 }, prefix: `lpq-gwdr-${randomBytes(4).toString("hex")}` });
let up: TFakeUpstream;
let gw: TGateway;
let port = 0;
let token = "";

beforeAll(async () => {
  const seed = await seedDeployable(t.db, { versions: 1 });
  await t.db.projectMember.create({ data: { projectId: seed.projectId, userId: seed.userId, role: "engineer" } });
  token = await seedToken(t.db, seed.userId, ["inference:invoke"]);
  // Each answer takes 50 ms: requests are always in flight on the client's connections.
  up = await startFakeUpstream(0, { latencyMs: 50 });
  const deps = { db: t.db, queue };
  const v = seed.versions[0]!;
  const { deploymentId } = await startDeployment(deps, { runId: v.runId, modelVersionId: v.id, environmentId: seed.environmentId, endpointName: "drain" });
  await markNewVariantReady(deps, { deploymentId, upstreamUrl: up.url, detail: "fake upstream" });
  await promoteDeployment(deps, { deploymentId, actor: { type: "system", userId: null } });
  gw = createGateway({ db: t.db, databaseUrl: t.url, log: createLogger("silent"), gatewayId: "gw-drain", requireAuth: true, maxBodyBytes: 4096, upstreamTimeoutMs: 10_000, flushIntervalMs: 60_000, resyncMs: 60_000 });
  port = await gw.listen(0, "127.0.0.1");
});

afterAll(async () => {
  await up?.close();
  await queue.close();
});

/** One request on the agent's keep-alive connections: status and Connection header, or the socket error's code. */
function call(agent: http.Agent): Promise<{ status: number; connection: string | undefined } | { error: string }> {
  const body = JSON.stringify({ model: "drain", messages: [{ role: "user", content: "hi" }] });
  return new Promise((resolve) => {
    const req = http.request(
      { host: "127.0.0.1", port, path: "/v1/chat/completions", method: "POST", agent, headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "content-length": Buffer.byteLength(body) } },
      (res) => {
        res.resume();
        res.on("end", () => resolve({ status: res.statusCode!, connection: res.headers.connection }));
      },
    );
    req.on("error", (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    req.end(body);
  });
}

it("closes within the requests in flight while keep-alive clients keep sending, and every answer is whole", { timeout: 30_000 }, async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  let sending = true;
  const results: Awaited<ReturnType<typeof call>>[] = [];
  const clients = Array.from({ length: 4 }, async () => {
    while (sending) {
      const r = await call(agent);
      results.push(r);
      // Once the gateway refuses new connections the client has nowhere left to send.
      if ("error" in r) return;
    }
  });
  while (results.length < 20) await new Promise((r) => setTimeout(r, 20));
  // One request known to be in flight (the model server has it) when the drain begins.
  const seen = up.requests;
  const single = new http.Agent({ keepAlive: true });
  const inFlight = call(single);
  while (up.requests === seen) await new Promise((r) => setImmediate(r));

  const started = performance.now();
  const closed = gw.close().then(() => performance.now() - started);
  // A client that never stops on its own: the gateway must not wait for it (stopped after 8 s either way).
  const closeMs = await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(Number.POSITIVE_INFINITY), 8_000))]);
  sending = false;
  await Promise.all([...clients, inFlight]);
  agent.destroy();
  single.destroy();
  await closed;

  expect(closeMs).toBeLessThan(3_000);
  const answered = results.filter((r): r is { status: number; connection: string | undefined } => "status" in r);
  expect(answered.every((r) => r.status === 200), JSON.stringify(answered.filter((r) => r.status !== 200))).toBe(true);
  // The answer in flight when the drain began is whole and tells its client to close the connection.
  expect(await inFlight).toEqual({ status: 200, connection: "close" });
  // After the close, connections are refused (the next replica takes them). A connection that was idle when the drain
  // began is closed at once, so a request written onto it at that instant is reset — as with nginx or Go's Shutdown;
  // it never reached the gateway, so clients retry it safely (the OpenAI SDKs retry connection errors).
  const errors = results.filter((r): r is { error: string } => "error" in r).map((r) => r.error);
  expect(errors.every((e) => e === "ECONNREFUSED" || e === "ECONNRESET"), errors.join(",")).toBe(true);
  // Nothing processed was lost: the model server answered exactly the requests whose answers the clients received.
  expect(up.requests).toBe(answered.length + 1);
});
