// Traffic provider gateway-api, driven through the rollout controller's tick: the real @kubernetes/client-node talks
// to the in-repo API server (test/helpers/fake-kube-api.ts) and the canary's decisions (from real gateway windows in
// Postgres) move the HTTPRoute's weights. Every route written is validated against the Gateway API v1 HTTPRoute schema
// (@kubernetes-models/gateway-api). Covers: steps, pin rules, a 409 retried, a hand edit corrected and reported with
// the human's own rule kept, rollback restoring the stable route; and the builtin provider's write path.
import { randomBytes } from "node:crypto";
import { KubeConfig } from "@kubernetes/client-node";
import { HTTPRoute } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1";
import { Service } from "kubernetes-models/v1";
import { emptyHistogram, recordValue } from "@loraplane/core";
import { findDeploymentById, listRolloutEvents, upsertServingWindows } from "@loraplane/db";
import { seedDeployable, useTestDb } from "@loraplane/db/testing";
import { createPipelineQueue } from "@loraplane/queue";
import { builtinTrafficProvider, listTrafficTargets, promoteDeployment, rollbackDeployment, startDeployment } from "@loraplane/services";
import { pino } from "pino";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createRolloutController } from "../../src/rollout/controller.ts";
import { gatewayApiTrafficProvider } from "../../src/rollout/gateway-api-traffic.ts";
import { trafficRouteName } from "../../src/serving/kubernetes-manifests.ts";
import type { TServingBackend } from "../../src/serving/types.ts";
import { FakeKubeApi, type TKubeObject } from "../helpers/fake-kube-api.ts";

const t = useTestDb("gateway-api-traffic");
const queue = createPipelineQueue({ connection: { host: "127.0.0.1", port: 6379 }, prefix: `lpq-gwapi-${randomBytes(4).toString("hex")}` });
const kube = new FakeKubeApi({ types: [{ group: "gateway.networking.k8s.io", version: "v1", plural: "httproutes", kind: "HTTPRoute", namespaced: true }] });
const GROUP = "gateway.networking.k8s.io";
const INSTANCE = "vllm-tiny-0a1b2c3d";

beforeAll(async () => {
  await kube.start(0);
});
afterAll(async () => {
  await kube.stop();
  await queue.runs.obliterate({ force: true });
  await queue.close();
});

/** Stands in for the vLLM backend: answers with the Service URL the kubernetes backend would return. */
const backend: TServingBackend = {
  kind: "kubernetes",
  async ensure(target) {
    return { url: `http://${INSTANCE}.${target.namespace}.svc:8000`, externalId: `${target.namespace}/${INSTANCE}` };
  },
  async loadAdapter() {},
  async unloadAdapter() {},
  async stop() {},
};

/** One gateway window per variant: n requests at latencyMs, `errors` of them failed. */
async function traffic(deploymentId: string, role: string, n: number, latencyMs: number, errors = 0) {
  const d = (await findDeploymentById(t.db, deploymentId))!;
  const v = d.variants.find((x) => x.role === role)!;
  const h = emptyHistogram();
  for (let i = 0; i < n; i++) recordValue(h, latencyMs);
  await upsertServingWindows(t.db, [{ deploymentId, variantId: v.id, gatewayId: "gw", windowStart: new Date(Math.floor(Date.now() / 1000) * 1000), windowSeconds: 1, requests: n, errors, errors4xx: 0, errors5xx: errors, timeouts: 0, latencyHist: h, ttftHist: h, latencySumMs: n * latencyMs, outputTokens: n, feedbackUp: 0, feedbackDown: 0 }]);
}

type TRule = NonNullable<NonNullable<HTTPRoute["spec"]>["rules"]>[number];
const isPin = (r: TRule) => (r.matches ?? []).some((m) => (m.headers ?? []).length > 0);

function route(namespace: string, name: string): TKubeObject & { spec: { rules: TRule[]; parentRefs: unknown[] } } {
  const obj = kube.get(GROUP, "httproutes", namespace, name);
  expect(obj, `HTTPRoute ${namespace}/${name}`).toBeDefined();
  // The object the API server holds validates against the Gateway API v1 schema.
  new HTTPRoute(obj as never).validate();
  return obj as never;
}

/** The split rule's weights by role, and the pinned header values by role. */
function split(obj: { spec: { rules: TRule[] } }, name: string) {
  const mine = obj.spec.rules.filter((r) => (r.backendRefs ?? []).some((b) => b.name.startsWith(`${name}-`)));
  const splits = mine.filter((r) => !isPin(r));
  expect(splits).toHaveLength(1);
  const weights = Object.fromEntries(splits[0]!.backendRefs!.map((b) => [b.name.slice(name.length + 1), b.weight]));
  const pins = Object.fromEntries(mine.filter(isPin).map((r) => [r.matches![0]!.headers![0]!.value, r.backendRefs![0]!.name.slice(name.length + 1)]));
  return { weights, pins };
}

const routeWrites = (name: string) => kube.requests.filter((r) => r.method === "PUT" && r.path.endsWith(`/httproutes/${name}`)).length;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

it("a canary's steps move the HTTPRoute's weights; pins; 409 retried; hand edit corrected and reported, others' rules kept; rollback restores stable", { timeout: 60_000 }, async () => {
  const s = await seedDeployable(t.db, { versions: 2 });
  for (const v of s.versions) {
    const a = await t.db.artifact.create({ data: { runId: v.runId, kind: "adapter", uri: `file:///runs/${v.runId}/adapter`, sha256: "a".repeat(64) }, select: { id: true } });
    await t.db.modelVersion.update({ where: { id: v.id }, data: { adapterArtifactId: a.id } });
  }
  const deps = { db: t.db, queue };
  const kc = new KubeConfig();
  kc.loadFromOptions(kube.kubeconfig());
  const controller = createRolloutController({
    deps,
    backends: { kubernetes: backend, local: backend },
    traffic: gatewayApiTrafficProvider({ kubeConfig: kc, gateway: { name: "inference-gateway", namespace: "gateway-system" }, hostnames: ["llm.example.test"] }),
    log: pino({ level: "silent" }),
    drainMs: 60_000,
  });
  const name = trafficRouteName(s.environmentId, "qwen-zh");
  const ns = "ns"; // seedDeployable's environment namespace

  // v1: the endpoint's first version; promoted by hand so that v2 has a stable variant.
  const first = await startDeployment(deps, { runId: s.versions[0]!.runId, modelVersionId: s.versions[0]!.id, environmentId: s.environmentId, endpointName: "qwen-zh", strategy: "canary", policy: { canary: { stepsBps: [10_000], stepSeconds: 60, minRequests: 5 } } });
  await controller.tick();
  expect(split(route(ns, name), name)).toEqual({ weights: { canary: 10_000 }, pins: { canary: "canary" } });
  await promoteDeployment(deps, { deploymentId: first.deploymentId, actor: { type: "user", userId: s.userId } });

  // v2: canary 10% → 30% → 50%.
  const policy = { slo: { p99LatencyMs: 500, ttftP95Ms: 500, errorRate: 0.05 }, canary: { stepsBps: [1000, 3000, 5000, 10_000], stepSeconds: 1, minRequests: 5 }, minRequestsForRollback: 5 };
  const second = await startDeployment(deps, { runId: s.versions[1]!.runId, modelVersionId: s.versions[1]!.id, environmentId: s.environmentId, endpointName: "qwen-zh", strategy: "canary", policy });
  await controller.tick(); // backend up, adapter loaded: step 0
  let r = route(ns, name);
  expect(r.metadata.labels).toMatchObject({ "app.kubernetes.io/managed-by": "loraplane" });
  expect(r.spec.parentRefs).toEqual([{ group: GROUP, kind: "Gateway", name: "inference-gateway", namespace: "gateway-system" }]);
  expect(split(r, name)).toEqual({ weights: { stable: 9000, canary: 1000 }, pins: { stable: "stable", canary: "canary" } });
  // One Service per variant, each selecting the vLLM pods that serve it.
  for (const role of ["stable", "canary"]) {
    const svc = kube.get("", "services", ns, `${name}-${role}`)!;
    new Service(svc as never).validate();
    expect((svc.spec as { selector: Record<string, string> }).selector).toEqual({ "app.kubernetes.io/instance": INSTANCE });
  }
  expect(svcAnnotation(`${name}-canary`)).toBe("qwen-zh-v2");

  await traffic(second.deploymentId, "canary", 10, 20);
  await traffic(second.deploymentId, "stable", 10, 20);
  await sleep(1_100);
  await controller.tick(); // healthy: step 1
  expect(split(route(ns, name), name).weights).toEqual({ stable: 7000, canary: 3000 });

  // A person edits the route between ticks: puts the canary at 100%, and adds a rule of their own at the top.
  kube.update(GROUP, "httproutes", ns, name, (obj) => {
    const rules = (obj.spec as { rules: TRule[] }).rules;
    const mine = rules.find((x) => !isPin(x))!;
    for (const b of mine.backendRefs!) b.weight = b.name.endsWith("-canary") ? 10_000 : 0;
    rules.unshift({ matches: [{ path: { type: "PathPrefix", value: "/admin" } }], backendRefs: [{ name: "ops-console", port: 80 }] });
  });
  await controller.tick(); // the step's window has not passed: no decision, but the route is put back
  r = route(ns, name);
  expect(split(r, name).weights).toEqual({ stable: 7000, canary: 3000 });
  expect(r.spec.rules[0]).toEqual({ matches: [{ path: { type: "PathPrefix", value: "/admin" } }], backendRefs: [{ name: "ops-console", port: 80 }] });
  let events = await listRolloutEvents(t.db, second.deploymentId);
  const drift = events.filter((e) => e.type === "traffic" && e.decision === "drift_corrected");
  expect(drift).toHaveLength(1);
  expect(drift[0]!.reason).toMatch(/corrected drift.*split rule edited outside loraplane \(stable=0, canary=10000; restored stable=7000, canary=3000\)/);
  // Nothing more to correct: the next tick writes nothing, and reads only the route (once for the split, once for the
  // pins); the variant Services were verified a moment ago.
  const before = routeWrites(name);
  const calls = kube.requests.length;
  await controller.tick();
  expect(routeWrites(name)).toBe(before);
  expect(kube.requests.slice(calls).map((r) => `${r.method} ${r.path}`)).toEqual([`GET /apis/${GROUP}/v1/namespaces/${ns}/httproutes/${name}`, `GET /apis/${GROUP}/v1/namespaces/${ns}/httproutes/${name}`]);

  // The route changes between the controller's read and its write (409): it reads again and applies the step.
  kube.failNext("PUT", new RegExp(`/httproutes/${name}$`), 409);
  await traffic(second.deploymentId, "canary", 10, 20);
  await traffic(second.deploymentId, "stable", 10, 20);
  await sleep(1_100);
  await controller.tick(); // step 2
  expect(routeWrites(name) - before).toBe(2); // the refused write and the retried one
  r = route(ns, name);
  expect(split(r, name).weights).toEqual({ stable: 5000, canary: 5000 });
  expect(r.spec.rules[0]!.backendRefs![0]!.name).toBe("ops-console");
  events = await listRolloutEvents(t.db, second.deploymentId);
  expect(events.some((e) => e.type === "traffic" && /after 1 conflict/.test(e.reason))).toBe(true);

  // The canary starts failing: automatic rollback; the route goes back to all-stable, and the rolled-back canary (no
  // longer live) leaves both the split and the pins.
  await traffic(second.deploymentId, "canary", 10, 20, 8);
  await controller.tick();
  expect((await findDeploymentById(t.db, second.deploymentId))!.state).toBe("rolled_back");
  r = route(ns, name);
  expect(split(r, name)).toEqual({ weights: { stable: 10_000 }, pins: { stable: "stable" } });
  expect(r.spec.rules[0]!.backendRefs![0]!.name).toBe("ops-console");
  expect(kube.get("", "services", ns, `${name}-canary`)).toBeUndefined(); // no rule sends to it any more
  expect(kube.get("", "services", ns, `${name}-stable`)).toBeDefined();
  events = await listRolloutEvents(t.db, second.deploymentId);
  expect(events.filter((e) => e.type === "traffic").at(-1)!.weights).toEqual({ stable: 10_000 });
});

it("an endpoint whose only version is rolled back loses loraplane's rules (as our gateway drops its route); others' rules stay", { timeout: 30_000 }, async () => {
  const s = await seedDeployable(t.db, { versions: 1 });
  const a = await t.db.artifact.create({ data: { runId: s.versions[0]!.runId, kind: "adapter", uri: "file:///runs/x/adapter", sha256: "b".repeat(64) }, select: { id: true } });
  await t.db.modelVersion.update({ where: { id: s.versions[0]!.id }, data: { adapterArtifactId: a.id } });
  const deps = { db: t.db, queue };
  const kc = new KubeConfig();
  kc.loadFromOptions(kube.kubeconfig());
  const controller = createRolloutController({ deps, backends: { kubernetes: backend, local: backend }, traffic: gatewayApiTrafficProvider({ kubeConfig: kc, gateway: { name: "inference-gateway" } }), log: pino({ level: "silent" }) });
  const d = await startDeployment(deps, { runId: s.versions[0]!.runId, modelVersionId: s.versions[0]!.id, environmentId: s.environmentId, endpointName: "first", strategy: "canary", policy: { canary: { stepsBps: [5000, 10_000], stepSeconds: 60 } } });
  await controller.tick();
  const name = trafficRouteName(s.environmentId, "first");
  expect(split(route("ns", name), name)).toEqual({ weights: { canary: 5000 }, pins: { canary: "canary" } });
  kube.update(GROUP, "httproutes", "ns", name, (obj) => void (obj.spec as { rules: TRule[] }).rules.push({ backendRefs: [{ name: "maintenance-page", port: 80 }] }));
  await rollbackDeployment(deps, { deploymentId: d.deploymentId, actor: { type: "user", userId: s.userId }, reason: "bad" });
  await controller.tick();
  expect(route("ns", name).spec.rules).toEqual([{ backendRefs: [{ name: "maintenance-page", port: 80 }] }]);
  expect(kube.get("", "services", "ns", `${name}-canary`)).toBeUndefined();
  const events = await listRolloutEvents(t.db, d.deploymentId);
  expect(events.filter((e) => e.type === "traffic").at(-1)).toMatchObject({ decision: "applied", weights: {} });
});

function svcAnnotation(name: string) {
  return kube.get("", "services", "ns", name)?.metadata.annotations?.["loraplane.dev/served-model"];
}

it("builtin: setWeights writes the routing table and bumps its version only when it differs", async () => {
  const s = await seedDeployable(t.db, { versions: 1 });
  const deps = { db: t.db, queue };
  const d = await startDeployment(deps, { runId: s.versions[0]!.runId, modelVersionId: s.versions[0]!.id, environmentId: s.environmentId, endpointName: "solo", strategy: "canary", policy: { canary: { stepsBps: [2000, 10_000] } } });
  await t.db.deploymentVariant.updateMany({ where: { deploymentId: d.deploymentId }, data: { status: "ready", upstreamUrl: "http://127.0.0.1:9", weightBps: 2000 } });
  const provider = builtinTrafficProvider(t.db);
  const target = (await listTrafficTargets(t.db)).find((x) => x.deploymentId === d.deploymentId)!;
  const v0 = (await findDeploymentById(t.db, d.deploymentId))!.routingVersion;
  expect(await provider.setWeights(target, { canary: 2000 })).toMatchObject({ changed: false });
  expect((await findDeploymentById(t.db, d.deploymentId))!.routingVersion).toBe(v0);
  expect(await provider.setWeights(target, { canary: 10_000 })).toMatchObject({ changed: true });
  const after = (await findDeploymentById(t.db, d.deploymentId))!;
  expect(after.variants[0]!.weightBps).toBe(10_000);
  expect(after.routingVersion).toBe(v0 + 1);
});
