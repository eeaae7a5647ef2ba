// A rolled-back canary's requests still in flight must finish: the gateways learn of the routing change
// asynchronously (NOTIFY, then a reload) and requests already dispatched to the canary are queued on the serving
// process. The fake upstream below keeps `serve`'s adapter semantics: a name that is not loaded answers 404, and a
// request whose adapter is unloaded while it waits (latency, the model lock) fails with 500. Before the fix the
// controller unloaded a failed variant's adapter in the very tick of the rollback, and those requests failed (the
// one failed client request during prod's rollback in tests/e2e/release.e2e.int.test.ts).
import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { findDeploymentById, findServingInstance } from "@loraplane/db";
import { useTestDb } from "@loraplane/db/testing";
import { createPipelineQueue } from "@loraplane/queue";
import { promoteDeployment, rollbackDeployment, startDeployment } from "@loraplane/services";
import { pino } from "pino";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createRolloutController } from "../../src/rollout/controller.ts";
import type { TServingBackend } from "../../src/serving/types.ts";

const t = useTestDb("rollout-drain");
const queue = createPipelineQueue({ connection: { host: "127.0.0.1", port: 6379 }, prefix: `lpq-drain-${randomBytes(4).toString("hex")}` });

const LATENCY_MS = 600;
const adapters = new Set<string>();
const loads: string[] = [];
const unloads: string[] = [];
const server = http.createServer((req, res) => {
  let raw = "";
  req.on("data", (c: Buffer) => (raw += c.toString()));
  req.on("end", () => {
    const body = JSON.parse(raw || "{}") as { model?: string; lora_name?: string };
    const answer = (status: number, payload: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(payload));
    };
    if (req.url === "/v1/load_lora_adapter") {
      // serve refuses a second load of a loaded name.
      if (adapters.has(body.lora_name!)) return answer(400, { error: { message: `The lora adapter '${body.lora_name}' has already been loaded.` } });
      adapters.add(body.lora_name!);
      loads.push(body.lora_name!);
      return answer(200, {});
    }
    if (req.url === "/v1/unload_lora_adapter") {
      if (!adapters.delete(body.lora_name!)) return answer(404, { error: { message: "cannot be found" } });
      unloads.push(body.lora_name!);
      return answer(200, {});
    }
    if (!adapters.has(body.model!)) return answer(404, { error: { message: `The model \`${body.model}\` does not exist.` } });
    setTimeout(() => {
      // Like serve's set_adapter on an adapter deleted while the request waited for the model lock.
      if (!adapters.has(body.model!)) return answer(500, { error: { message: `Adapter ${body.model} not found.` } });
      answer(200, { choices: [{ text: "ok" }] });
    }, LATENCY_MS);
  });
});
let url = "";

const post = async (path: string, body: unknown) => {
  const res = await fetch(`${url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${await res.text()}`);
};
const backend: TServingBackend = {
  kind: "local",
  async ensure() {
    return { url, externalId: "pid:1" };
  },
  loadAdapter: (_i, name) => post("/v1/load_lora_adapter", { lora_name: name, lora_path: "/x" }),
  unloadAdapter: (_i, name) => post("/v1/unload_lora_adapter", { lora_name: name }),
  async stop() {},
};

beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.close();
  await queue.runs.obliterate({ force: true });
  await queue.close();
});

/** A completion as a gateway that still routes to `model` would send it; resolves with the HTTP status. */
async function complete(model: string): Promise<number> {
  const res = await fetch(`${url}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model, prompt: "hi" }) });
  await res.text();
  return res.status;
}

it("a rolled-back canary keeps its adapter until its in-flight requests finished; the same version can be deployed again meanwhile", { timeout: 60_000 }, async () => {
  const project = await t.db.project.create({ data: { slug: "drain", name: "drain" }, select: { id: true } });
  const pipeline = await t.db.pipeline.create({ data: { projectId: project.id, name: "p", spec: {} }, select: { id: true } });
  const env = await t.db.environment.create({ data: { projectId: project.id, name: "prod", tier: "prod", namespace: "prod" }, select: { id: true } });
  const versions = [];
  for (const i of [1, 2]) {
    const run = await t.db.pipelineRun.create({ data: { projectId: project.id, pipelineId: pipeline.id, number: i, trigger: "api", specVersion: 1, resolvedSpec: {} }, select: { id: true } });
    const artifact = await t.db.artifact.create({ data: { runId: run.id, kind: "adapter", uri: `file:///tmp/adapter${i}` }, select: { id: true } });
    versions.push(await t.db.modelVersion.create({ data: { projectId: project.id, modelName: "m", version: i, runId: run.id, baseModel: "/models/tiny", adapterArtifactId: artifact.id, lineage: {} }, select: { id: true } }));
  }
  const deps = { db: t.db, queue };
  const drainMs = 3_000;
  const controller = createRolloutController({ deps, backends: { local: backend }, log: pino({ level: "silent" }), drainMs });
  const actor = { type: "system" as const, userId: null };

  const first = await startDeployment(deps, { modelVersionId: versions[0]!.id, environmentId: env.id, endpointName: "chat", strategy: "canary" });
  await controller.tick();
  await promoteDeployment(deps, { deploymentId: first.deploymentId, actor });
  const second = await startDeployment(deps, { modelVersionId: versions[1]!.id, environmentId: env.id, endpointName: "chat", strategy: "canary", policy: { canary: { stepsBps: [5_000, 10_000] } } });
  await controller.tick();
  const d = (await findDeploymentById(t.db, second.deploymentId))!;
  expect(d.variants.map((v) => [v.role, v.status, v.weightBps])).toEqual([["stable", "ready", 5_000], ["canary", "ready", 5_000]]);
  expect([...adapters].sort()).toEqual(["m-v1", "m-v2"]);

  // Requests the gateways dispatched to the canary just before the rollback reached them.
  const inFlight = [complete("m-v2"), complete("m-v2"), complete("m-v1")];
  await new Promise((r) => setTimeout(r, 50));
  await rollbackDeployment(deps, { deploymentId: second.deploymentId, actor, reason: "SLO breach", automatic: true });
  await controller.tick(); // the tick that follows the rollback (the analysis decided it in this same tick)
  // A gateway whose reload has not landed yet still sends the canary a request.
  const stale = complete("m-v2");
  expect(await Promise.all([...inFlight, stale])).toEqual([200, 200, 200, 200]);
  expect(unloads).toEqual([]);

  // The same version deployed again while its adapter drains: the loaded adapter is reused, not loaded twice.
  const third = await startDeployment(deps, { modelVersionId: versions[1]!.id, environmentId: env.id, endpointName: "chat", strategy: "canary", policy: { canary: { stepsBps: [5_000, 10_000] } } });
  await controller.tick();
  expect((await findDeploymentById(t.db, third.deploymentId))!.state).toBe("progressing");
  expect(loads).toEqual(["m-v1", "m-v2"]);
  await rollbackDeployment(deps, { deploymentId: third.deploymentId, actor, reason: "again", automatic: true });

  // The drain ends: the rolled-back adapter is unloaded; the stable one stays.
  await new Promise((r) => setTimeout(r, drainMs + 200));
  await controller.tick();
  expect(unloads).toEqual(["m-v2"]);
  expect([...adapters]).toEqual(["m-v1"]);
  expect((await findServingInstance(t.db, env.id, "/models/tiny"))!.adapters).toEqual(["m-v1"]);
});
