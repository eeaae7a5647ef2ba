// Tenant isolation (#11 finding 2): a token reaches only the endpoints of projects its owner belongs to (admins: all;
// a project-bound token: only its project), and nothing about other projects' endpoints leaks.
import { randomBytes } from "node:crypto";
import { useTestDb, seedDeployable } from "@loraplane/db/testing";
import { createPipelineQueue } from "@loraplane/queue";
import { markNewVariantReady, promoteDeployment, startDeployment } from "@loraplane/services";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../src/log.ts";
import { createGateway, type TGateway } from "../src/server.ts";
import { startFakeUpstream, type TFakeUpstream } from "./fake-upstream.ts";
import { seedToken } from "./seed.ts";

const t = useTestDb("gwtenancy");
const queue = createPipelineQueue({ connection: { host: "127.0.0.1", port: 6379 }, prefix: `lpq-gwten-${randomBytes(4).toString("hex")}` });
const system = { type: "system" as const, userId: null };
const ups: TFakeUpstream[] = [];
let gw: TGateway;
let base = "";
let a: Awaited<ReturnType<typeof seedDeployable>>;
let b: Awaited<ReturnType<typeof seedDeployable>>;
const slugs = { a: "", b: "", envA: "", envB: "" };
const tokens = { viewer: "", memberA: "", memberABoundA: "", memberABoundB: "", admin: "", adminBoundB: "" };
let viewerId = "";

async function live(s: typeof a, endpointName: string, upstream: TFakeUpstream, versionIndex = 0) {
  const v = s.versions[versionIndex]!;
  const deps = { db: t.db, queue };
  const { deploymentId } = await startDeployment(deps, { runId: v.runId, modelVersionId: v.id, environmentId: s.environmentId, endpointName });
  await markNewVariantReady(deps, { deploymentId, upstreamUrl: upstream.url, detail: "fake upstream" });
  await promoteDeployment(deps, { deploymentId, actor: system });
}

const user = async (role: "viewer" | "engineer" | "admin") => (await t.db.user.create({ data: { email: `${role}-${randomBytes(3).toString("hex")}@example.test`, role }, select: { id: true } })).id;

function chat(token: string, model: string, path = "/v1/chat/completions") {
  return fetch(`${base}${path}`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${token}` }, body: JSON.stringify({ model, messages: [] }) });
}
async function models(token: string, path = "/v1/models"): Promise<string[]> {
  const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { data: { id: string; project: string }[] }).data.map((m) => `${m.project}:${m.id}`).sort();
}

beforeAll(async () => {
  a = await seedDeployable(t.db, { versions: 2 });
  b = await seedDeployable(t.db, { versions: 2 });
  for (const [k, s] of [["a", a], ["b", b]] as const) {
    slugs[k] = (await t.db.project.findUniqueOrThrow({ where: { id: s.projectId }, select: { slug: true } })).slug;
    slugs[k === "a" ? "envA" : "envB"] = (await t.db.environment.findUniqueOrThrow({ where: { id: s.environmentId }, select: { name: true } })).name;
  }
  for (let i = 0; i < 3; i++) ups.push(await startFakeUpstream(0));
  await live(a, "shared", ups[0]!);
  await live(b, "shared", ups[1]!);
  await live(b, "secret-b", ups[2]!, 1);

  viewerId = await user("viewer");
  const engineer = await user("engineer");
  const admin = await user("admin");
  await t.db.projectMember.create({ data: { projectId: a.projectId, userId: engineer, role: "engineer" } });
  tokens.viewer = await seedToken(t.db, viewerId, ["inference:invoke"]);
  tokens.memberA = await seedToken(t.db, engineer, ["inference:invoke"]);
  tokens.memberABoundA = await seedToken(t.db, engineer, ["inference:invoke"], a.projectId);
  tokens.memberABoundB = await seedToken(t.db, engineer, ["inference:invoke"], b.projectId);
  tokens.admin = await seedToken(t.db, admin, ["inference:invoke"]);
  tokens.adminBoundB = await seedToken(t.db, admin, ["inference:invoke"], b.projectId);

  gw = createGateway({ db: t.db, databaseUrl: t.url, log: createLogger("silent"), gatewayId: "gw-tenancy", requireAuth: true, maxBodyBytes: 4096, upstreamTimeoutMs: 3000, flushIntervalMs: 60_000, resyncMs: 60_000, tokenCacheMs: 300 });
  base = `http://127.0.0.1:${await gw.listen(0, "127.0.0.1")}`;
});

afterAll(async () => {
  await gw?.close();
  await Promise.all(ups.map((u) => u.close()));
  await queue.close();
});

describe("gateway tenant isolation", () => {
  it("a viewer with no project reaches no endpoint and lists none", async () => {
    const res = await chat(tokens.viewer, "shared");
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { param: string } }).error.param).toBe("model");
    expect((await chat(tokens.viewer, "shared", `/${slugs.a}/${slugs.envA}/v1/chat/completions`)).status).toBe(404);
    expect(await models(tokens.viewer)).toEqual([]);
    expect(await models(tokens.viewer, `/${slugs.a}/${slugs.envA}/v1/models`)).toEqual([]);
    expect(ups[0]!.requests + ups[1]!.requests + ups[2]!.requests).toBe(0);
  });

  it("a member reaches its project's endpoints only; another project's endpoint is indistinguishable from none", async () => {
    const own = await chat(tokens.memberA, "shared");
    // "shared" exists in two projects, but only one is reachable: the legacy path is unambiguous for this caller.
    expect(own.status).toBe(200);
    expect(own.headers.get("x-loraplane-model-version")).toBe(a.versions[0]!.id);
    const hidden = await chat(tokens.memberA, "secret-b");
    const none = await chat(tokens.memberA, "no-such-endpoint");
    expect(hidden.status).toBe(404);
    expect(none.status).toBe(404);
    expect(((await hidden.json()) as { error: { message: string } }).error.message).toBe(((await none.json()) as { error: { message: string } }).error.message.replace("no-such-endpoint", "secret-b"));
    expect((await chat(tokens.memberA, "shared", `/${slugs.b}/${slugs.envB}/v1/chat/completions`)).status).toBe(404);
    expect(await models(tokens.memberA)).toEqual([`${slugs.a}:shared`]);
    expect(await models(tokens.memberA, `/${slugs.b}/${slugs.envB}/v1/models`)).toEqual([]);
    expect(ups[2]!.requests).toBe(0);
  });

  it("a project-bound token reaches only its project, and only while its owner belongs there", async () => {
    expect((await chat(tokens.memberABoundA, "shared")).status).toBe(200);
    expect(await models(tokens.memberABoundA)).toEqual([`${slugs.a}:shared`]);
    // Bound to a project its owner is not a member of: nothing.
    expect((await chat(tokens.memberABoundB, "secret-b")).status).toBe(404);
    expect(await models(tokens.memberABoundB)).toEqual([]);
    // An admin's token bound to B reaches B only.
    expect((await chat(tokens.adminBoundB, "secret-b")).status).toBe(200);
    expect((await chat(tokens.adminBoundB, "shared")).headers.get("x-loraplane-model-version")).toBe(b.versions[0]!.id);
    expect(await models(tokens.adminBoundB)).toEqual([`${slugs.b}:secret-b`, `${slugs.b}:shared`]);
  });

  it("an admin reaches every project (and must choose where the name is ambiguous)", async () => {
    expect(await models(tokens.admin)).toEqual([`${slugs.a}:shared`, `${slugs.b}:secret-b`, `${slugs.b}:shared`].sort());
    expect((await chat(tokens.admin, "secret-b")).status).toBe(200);
    expect((await chat(tokens.admin, "shared")).status).toBe(400);
    expect((await chat(tokens.admin, "shared", `/${slugs.b}/${slugs.envB}/v1/chat/completions`)).headers.get("x-loraplane-model-version")).toBe(b.versions[0]!.id);
  });

  it("membership is looked up with the token and refreshed with it", async () => {
    expect((await chat(tokens.viewer, "secret-b")).status).toBe(404);
    await t.db.projectMember.create({ data: { projectId: b.projectId, userId: viewerId, role: "viewer" } });
    await new Promise((r) => setTimeout(r, 400));
    expect((await chat(tokens.viewer, "secret-b")).status).toBe(200);
    await t.db.projectMember.delete({ where: { projectId_userId: { projectId: b.projectId, userId: viewerId } } });
    await new Promise((r) => setTimeout(r, 400));
    expect((await chat(tokens.viewer, "secret-b")).status).toBe(404);
  });
});
