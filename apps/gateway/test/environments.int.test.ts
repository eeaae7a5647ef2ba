// Environment isolation (#12 item 1): endpoints are addressed per (project, environment, endpoint name).
import { randomBytes } from "node:crypto";
import { useTestDb, seedDeployable } from "@loraplane/db/testing";
import { createPipelineQueue } from "@loraplane/queue";
import { markNewVariantReady, promoteDeployment, startDeployment } from "@loraplane/services";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../src/log.ts";
import { createGateway, type TGateway } from "../src/server.ts";
import { startFakeUpstream, type TFakeUpstream } from "./fake-upstream.ts";
import { seedToken } from "./seed.ts";

const t = useTestDb("gwenv");
const queue = createPipelineQueue({ connection: { host: "127.0.0.1", port: 6379 }, prefix: `lpq-gwenv-${randomBytes(4).toString("hex")}` });
const system = { type: "system" as const, userId: null };
const ups: TFakeUpstream[] = [];
const gws: TGateway[] = [];
let token = "";
let slug = "";
let seed: Awaited<ReturnType<typeof seedDeployable>>;
let devEnvId = "";
let prodEnvId = "";

async function live(environmentId: string, versionIndex: number, endpointName: string, upstream: TFakeUpstream, s = seed) {
  const v = s.versions[versionIndex]!;
  const deps = { db: t.db, queue };
  const { deploymentId } = await startDeployment(deps, { runId: v.runId, modelVersionId: v.id, environmentId, endpointName, strategy: "canary" });
  await markNewVariantReady(deps, { deploymentId, upstreamUrl: upstream.url, detail: "fake upstream" });
  await promoteDeployment(deps, { deploymentId, actor: system });
}

async function gateway(environments?: string[]) {
  const gw = createGateway({ db: t.db, databaseUrl: t.url, log: createLogger("silent"), gatewayId: `gw-env-${gws.length}`, requireAuth: true, maxBodyBytes: 4096, upstreamTimeoutMs: 3000, flushIntervalMs: 60_000, resyncMs: 60_000, environments });
  gws.push(gw);
  return `http://127.0.0.1:${await gw.listen(0, "127.0.0.1")}`;
}

function post(base: string, path: string, body: Record<string, unknown>) {
  return fetch(`${base}${path}`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${token}` }, body: JSON.stringify({ messages: [{ role: "user", content: "hi" }], ...body }) });
}
const get = (base: string, path: string) => fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } });

beforeAll(async () => {
  seed = await seedDeployable(t.db, { versions: 3 });
  slug = (await t.db.project.findUniqueOrThrow({ where: { id: seed.projectId }, select: { slug: true } })).slug;
  devEnvId = seed.environmentId;
  await t.db.environment.update({ where: { id: devEnvId }, data: { name: "dev", tier: "dev" } });
  prodEnvId = (await t.db.environment.create({ data: { projectId: seed.projectId, name: "prod", tier: "prod", namespace: "ns" }, select: { id: true } })).id;
  await t.db.projectMember.create({ data: { projectId: seed.projectId, userId: seed.userId, role: "engineer" } });
  token = await seedToken(t.db, seed.userId, ["inference:invoke"]);
  for (let i = 0; i < 3; i++) ups.push(await startFakeUpstream(0));
  // prod serves v1, dev serves the newer v2 under the same endpoint name, each on its own upstream.
  await live(prodEnvId, 0, "chat", ups[0]!);
  await live(devEnvId, 1, "chat", ups[1]!);
  // Only dev has "draft": the legacy path still finds it.
  await live(devEnvId, 2, "draft", ups[2]!);
});

afterAll(async () => {
  for (const gw of gws) await gw.close();
  await Promise.all(ups.map((u) => u.close()));
  await queue.close();
});

describe("environment isolation", () => {
  it("answers each environment with its own version for the same endpoint name", async () => {
    const base = await gateway();
    for (let i = 0; i < 3; i++) {
      const prod = await post(base, `/${slug}/prod/v1/chat/completions`, { model: "chat" });
      expect(prod.status).toBe(200);
      expect(prod.headers.get("x-loraplane-model-version")).toBe(seed.versions[0]!.id);
      expect(((await prod.json()) as { model: string }).model).toBe("qwen-zh-v1");
      const dev = await post(base, `/${slug}/dev/v1/chat/completions`, { model: "chat" });
      expect(dev.status).toBe(200);
      expect(dev.headers.get("x-loraplane-model-version")).toBe(seed.versions[1]!.id);
      expect(((await dev.json()) as { model: string }).model).toBe("qwen-zh-v2");
    }
    expect(new Set(ups[0]!.seenModels)).toEqual(new Set(["qwen-zh-v1"]));
    expect(new Set(ups[1]!.seenModels)).toEqual(new Set(["qwen-zh-v2"]));
    // Streaming and the other operations take the same addressing.
    const streamed = await post(base, `/${slug}/dev/v1/chat/completions`, { model: "chat", stream: true });
    expect(await streamed.text()).toContain('"model":"qwen-zh-v2"');
    expect((await post(base, `/${slug}/prod/v1/completions`, { model: "chat", prompt: "x" })).headers.get("x-loraplane-model-version")).toBe(seed.versions[0]!.id);

    // An endpoint that only one environment has is not found in another, and unknown environments answer 404.
    expect((await post(base, `/${slug}/prod/v1/chat/completions`, { model: "draft" })).status).toBe(404);
    expect((await post(base, `/${slug}/nope/v1/chat/completions`, { model: "chat" })).status).toBe(404);
    expect((await post(base, `/other-project/prod/v1/chat/completions`, { model: "chat" })).status).toBe(404);
  });

  it("resolves the legacy /v1 path only when the endpoint name is unambiguous; otherwise 400 naming the choices", async () => {
    const base = await gateway();
    const ambiguous = await post(base, "/v1/chat/completions", { model: "chat" });
    expect(ambiguous.status).toBe(400);
    const error = ((await ambiguous.json()) as { error: { param: string; message: string; choices: { environment: string; base_url: string }[] } }).error;
    expect(error.param).toBe("model");
    expect(error.message).toContain(`${slug}/dev`);
    expect(error.message).toContain(`${slug}/prod`);
    expect(error.choices.map((c) => c.base_url)).toEqual([`/${slug}/dev/v1`, `/${slug}/prod/v1`]);

    const draft = await post(base, "/v1/chat/completions", { model: "draft" });
    expect(draft.status).toBe(200);
    expect(draft.headers.get("x-loraplane-model-version")).toBe(seed.versions[2]!.id);
  });

  it("lists models per environment and across environments", async () => {
    const base = await gateway();
    type TModels = { data: { id: string; environment: string; base_url: string }[] };
    const prod = (await (await get(base, `/${slug}/prod/v1/models`)).json()) as TModels;
    expect(prod.data.map((m) => [m.id, m.environment])).toEqual([["chat", "prod"]]);
    const all = (await (await get(base, "/v1/models")).json()) as TModels;
    expect(all.data.map((m) => `${m.environment}/${m.id}`).sort()).toEqual(["dev/chat", "dev/draft", "prod/chat"]);
    expect(all.data.find((m) => m.environment === "prod")!.base_url).toBe(`/${slug}/prod/v1`);
  });

  it("serves only its own environments when restricted (one gateway per environment)", async () => {
    const base = await gateway([`${slug}/prod`]);
    expect((await post(base, `/${slug}/dev/v1/chat/completions`, { model: "chat" })).status).toBe(404);
    const prod = await post(base, `/${slug}/prod/v1/chat/completions`, { model: "chat" });
    expect(prod.headers.get("x-loraplane-model-version")).toBe(seed.versions[0]!.id);
    // Among the environments this gateway serves, "chat" is unambiguous.
    const legacy = await post(base, "/v1/chat/completions", { model: "chat" });
    expect(legacy.status).toBe(200);
    expect(legacy.headers.get("x-loraplane-model-version")).toBe(seed.versions[0]!.id);
    expect((await post(base, "/v1/chat/completions", { model: "draft" })).status).toBe(404);
  });
});
