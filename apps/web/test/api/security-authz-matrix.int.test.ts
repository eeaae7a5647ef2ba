// Issue #11 suite 1: the authorization matrix, generated from the OpenAPI document. Every operation is called by
// every kind of caller that must not reach project A's objects — anonymous, a member (admin) of another project by
// token and by browser session, a global admin's token bound to another project, each project role below the
// operation's requirement, and a token without the operation's scope. Each must get 401, 403 or 404: never 2xx, never
// 5xx. Operations that are not about one project are listed explicitly, and their list answers are checked for leaks.
import { useTestDb } from "@loraplane/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildOpenApiDocument } from "../../src/server/api/openapi.ts";
import { serverContext } from "../../src/server/context.ts";
import { API_ROUTES } from "../../src/server/routes/index.ts";
import { BASE, call, configureEnv, makeProject, makeUser, sessionCookie, type TFixture, tokenFor } from "./fixtures.ts";

const t = useTestDb("web-authz-matrix");
const ROLES = ["viewer", "engineer", "approver", "admin"] as const;

type TAuth = { kind: string; role: string | null; scope: string | null; globalRole: string | null };
type TOp = { method: string; path: string; operationId: string; auth: TAuth; projectScoped: boolean };

/** Operations about no single project (the caller's own things, global admin, or lists filtered to what they see). */
const GLOBAL_OPERATIONS = new Set(["getMe", "listProjects", "createProject", "listTokens", "createToken", "revokeToken", "listUsers", "createUser", "updateUser", "validatePipelineSpec"]);
/** Operations that check project visibility in their handler (ids in the query): called with project A's ids. */
const SELF_CHECKED: Record<string, (fx: TFixture) => string> = {
  compareModelVersions: (fx) => `?a=${fx.modelVersionId}&b=${fx.modelVersionId}`,
  compareRuns: (fx) => `?ids=${fx.runId},${secondRunOf[fx.projectId]}`,
};
/** A second run per fixture project: comparing runs needs two. */
const secondRunOf: Record<string, string> = {};
/** Objects the fixture does not create: a role below the requirement meets 404 (nothing there) before its 403. */
const NO_FIXTURE_OBJECT = /^\/api\/v1\/(releases|webhook-deliveries)\//;

let a: TFixture;
let b: TFixture;
let ops: TOp[] = [];
const secrets: Record<string, string> = {};
const headersOf: Record<string, Record<string, string>> = {};
let ownTokenId = "";
let someUserId = "";

function concretePath(path: string): string {
  const byCollection: Record<string, string> = {
    "model-versions": a.modelVersionId,
    environments: a.environmentId,
    deployments: a.deploymentId,
    approvals: a.approvalId,
    webhooks: a.webhookId,
    tokens: ownTokenId,
    users: someUserId,
  };
  return path.replace(/\{(\w+)\}/g, (_m, name: string, offset: number) => {
    if (name === "id") return byCollection[path.slice(0, offset).split("/").filter(Boolean).pop()!] ?? a.projectId;
    const values: Record<string, string> = { ...a, index: "0", alias: "champion", provider: "gitlab", key: "loss" } as unknown as Record<string, string>;
    return values[name] ?? a.projectId;
  });
}

const handlerOf = (operationId: string) => API_ROUTES.find((r) => r.def.operationId === operationId)!.handler;

async function send(op: TOp, headers: Record<string, string>, withProjectQuery = true) {
  let path = concretePath(op.path);
  const route = API_ROUTES.find((r) => r.def.operationId === op.operationId)!;
  const source = route.def.auth.kind === "user" ? route.def.auth.project : undefined;
  if (withProjectQuery && source && "query" in source) path += `${path.includes("?") ? "&" : "?"}${source.query}=${a.projectId}`;
  if (SELF_CHECKED[op.operationId]) path += SELF_CHECKED[op.operationId]!(a);
  return call(handlerOf(op.operationId), op.method, path, { headers, body: { projectId: a.projectId } });
}

beforeAll(async () => {
  configureEnv(t.url);
  a = await makeProject(t.db, "mx-a");
  b = await makeProject(t.db, "mx-b");
  for (const fx of [a, b]) {
    const run = await t.db.pipelineRun.create({ data: { projectId: fx.projectId, pipelineId: fx.pipelineId, number: 2, trigger: "api", specVersion: 1, resolvedSpec: {}, status: "succeeded" }, select: { id: true } });
    secondRunOf[fx.projectId] = run.id;
  }
  for (const role of ROLES) {
    const user = await makeUser(t.db, `${role}@mx-a.test`);
    await t.db.projectMember.create({ data: { projectId: a.projectId, userId: user.id, role } });
    secrets[role] = (await tokenFor(t.db, user.id)).secret;
    someUserId = user.id;
  }
  ownTokenId = (await tokenFor(t.db, someUserId)).id;
  // Admin of project B only.
  const other = await makeUser(t.db, "admin@mx-b.test");
  await t.db.projectMember.create({ data: { projectId: b.projectId, userId: other.id, role: "admin" } });
  // A global admin whose token is bound to project B.
  const root = await makeUser(t.db, "root@mx.test", "admin");
  headersOf.anonymous = {};
  headersOf.otherProjectToken = { authorization: `Bearer ${(await tokenFor(t.db, other.id)).secret}` };
  headersOf.otherProjectSession = { cookie: await sessionCookie(other.id), origin: BASE };
  headersOf.boundToOtherProject = { authorization: `Bearer ${(await tokenFor(t.db, root.id, undefined, b.projectId)).secret}` };

  const doc = buildOpenApiDocument(BASE) as unknown as { paths: Record<string, Record<string, { operationId: string; "x-loraplane-auth": TAuth }>> };
  ops = Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => {
      const route = API_ROUTES.find((r) => r.def.operationId === op.operationId)!;
      const projectScoped = (route.def.auth.kind === "user" && route.def.auth.project !== undefined) || op.operationId in SELF_CHECKED;
      return { method, path, operationId: op.operationId, auth: op["x-loraplane-auth"], projectScoped };
    }),
  );
});

afterAll(async () => {
  await serverContext().queue().close();
});

describe("authorization matrix (every OpenAPI operation)", () => {
  it("classifies every operation: project-scoped, global (listed), or workload/webhook", () => {
    expect(ops.length).toBe(API_ROUTES.length);
    const unclassified = ops.filter((o) => o.auth.kind === "user" && !o.projectScoped && !GLOBAL_OPERATIONS.has(o.operationId));
    expect(unclassified.map((o) => o.operationId)).toEqual([]);
    expect(ops.filter((o) => o.projectScoped).length).toBeGreaterThan(40);
  });

  for (const caller of ["anonymous", "otherProjectToken", "otherProjectSession", "boundToOtherProject"]) {
    it(`${caller}: every project-scoped (and workload/webhook) operation on project A is refused, never 2xx/5xx`, async () => {
      const failures: string[] = [];
      for (const op of ops) {
        if (caller !== "anonymous" && !op.projectScoped) continue;
        const res = await send(op, headersOf[caller]!);
        const expected = caller === "anonymous" ? [401, 403] : [403, 404];
        if (!expected.includes(res.status)) failures.push(`${op.method.toUpperCase()} ${op.path} → ${res.status}`);
        const body = await res.json();
        expect(body.error?.code, `${op.operationId}`).toBeTypeOf("string");
      }
      expect(failures).toEqual([]);
    });
  }

  it("each project role below the operation's requirement gets 403", async () => {
    const failures: string[] = [];
    let checked = 0;
    for (const op of ops.filter((o) => o.projectScoped && o.auth.role && !NO_FIXTURE_OBJECT.test(o.path))) {
      for (const role of ROLES.slice(0, ROLES.indexOf(op.auth.role as (typeof ROLES)[number]))) {
        const res = await send(op, { authorization: `Bearer ${secrets[role]}` });
        if (res.status !== 403) failures.push(`${role}: ${op.method.toUpperCase()} ${op.path} → ${res.status}`);
        checked++;
      }
    }
    expect(failures).toEqual([]);
    expect(checked).toBeGreaterThan(40);
  });

  it("a token without the operation's scope gets 403 (insufficient_scope), whatever its owner's role", async () => {
    const admin = await t.db.user.findUniqueOrThrow({ where: { email: "admin@mx-a.test" } });
    const failures: string[] = [];
    for (const op of ops.filter((o) => o.auth.kind === "user" && o.auth.scope)) {
      const scope = op.auth.scope!;
      const others = ["runs:read", "runs:write", "models:read", "models:write", "deployments:read", "deployments:write", "inference:invoke"].filter(
        (s) => s !== scope && !(scope.endsWith(":read") && s === scope.replace(":read", ":write")) && scope !== "admin",
      );
      if (scope === "admin") others.splice(0, others.length, "runs:write", "models:write", "deployments:write");
      const { secret } = await tokenFor(t.db, admin.id, others);
      const res = await send(op, { authorization: `Bearer ${secret}` });
      if (res.status !== 403) failures.push(`${op.method.toUpperCase()} ${op.path} without ${scope} → ${res.status}`);
    }
    expect(failures).toEqual([]);
  });

  it("lists that are not about one project show other callers nothing of project A", async () => {
    const ids = Object.values(a);
    const failures: string[] = [];
    for (const op of ops.filter((o) => o.method === "get" && !o.path.includes("{") && !(o.operationId in SELF_CHECKED))) {
      for (const caller of ["otherProjectToken", "otherProjectSession", "boundToOtherProject"]) {
        const res = await send(op, headersOf[caller]!, false);
        if (res.status >= 500) failures.push(`${caller}: ${op.path} → ${res.status}`);
        if (res.status >= 300) continue;
        const text = await res.text();
        const leaked = ids.filter((id) => text.includes(id));
        if (leaked.length) failures.push(`${caller}: GET ${op.path} shows ${leaked.join(", ")}`);
      }
    }
    expect(failures).toEqual([]);
  });
});
