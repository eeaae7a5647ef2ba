// Built from the OpenAPI document: every operation refuses anonymous callers, each project role below its
// requirement, and tokens without its scope.
import { useTestDb } from "@loraplane/db/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { buildOpenApiDocument } from "../../src/server/api/openapi.ts";
import { API_ROUTES } from "../../src/server/routes/index.ts";
import { BASE, call, configureEnv, makeProject, makeUser, type TFixture, tokenFor } from "./fixtures.ts";

const t = useTestDb("web-inventory");
const ROLES = ["viewer", "engineer", "approver", "admin"] as const;

type TOp = { method: string; path: string; operationId: string; auth: { kind: string; role: string | null; scope: string | null; globalRole: string | null } };

let fx: TFixture;
const tokens: Record<string, string> = {};
let ops: TOp[] = [];
let ownTokenId = "";
let someUserId = "";

function concretePath(path: string): string {
  const byCollection: Record<string, string> = {
    "model-versions": fx.modelVersionId,
    environments: fx.environmentId,
    deployments: fx.deploymentId,
    approvals: fx.approvalId,
    releases: fx.releaseId,
    webhooks: fx.webhookId,
    "webhook-deliveries": fx.webhookDeliveryId,
    tokens: ownTokenId,
    users: someUserId,
  };
  return path.replace(/\{(\w+)\}/g, (_m, name: string, offset: number) => {
    if (name === "id") return byCollection[path.slice(0, offset).split("/").filter(Boolean).pop()!]!;
    const values: Record<string, string> = { ...fx, index: "0", alias: "champion", provider: "gitlab", environment: "prod" } as unknown as Record<string, string>;
    return values[name]!;
  });
}

const handlerOf = (operationId: string) => API_ROUTES.find((r) => r.def.operationId === operationId)!.handler;

beforeAll(async () => {
  configureEnv(t.url);
  fx = await makeProject(t.db, "inv-a");
  for (const role of ROLES) {
    const user = await makeUser(t.db, `${role}@a.test`);
    await t.db.projectMember.create({ data: { projectId: fx.projectId, userId: user.id, role } });
    tokens[role] = (await tokenFor(t.db, user.id)).secret;
    someUserId = user.id;
  }
  const viewerId = (await t.db.user.findUniqueOrThrow({ where: { email: "viewer@a.test" } })).id;
  ownTokenId = (await tokenFor(t.db, viewerId)).id;
  const doc = buildOpenApiDocument(BASE) as unknown as { paths: Record<string, Record<string, { operationId: string; "x-loraplane-auth": TOp["auth"] }>> };
  ops = Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({ method, path, operationId: op.operationId, auth: op["x-loraplane-auth"] })),
  );
});

describe("route inventory", () => {
  it("documents every route of the builder exactly once", () => {
    expect(ops.length).toBe(API_ROUTES.length);
    expect(new Set(ops.map((o) => o.operationId)).size).toBe(ops.length);
    expect(ops.length).toBeGreaterThan(50);
  });

  it("refuses anonymous callers on every operation", async () => {
    for (const op of ops) {
      const res = await call(handlerOf(op.operationId), op.method, concretePath(op.path), { body: { projectId: fx.projectId } });
      expect([401, 403], `${op.method} ${op.path} → ${res.status}`).toContain(res.status);
      const body = await res.json();
      expect(body.error.code).toBeTypeOf("string");
      expect(body.requestId).toBeTypeOf("string");
    }
  });

  it("refuses a malformed or unknown Bearer token with 401", async () => {
    const res = await call(handlerOf("listProjects"), "get", "/api/v1/projects", { headers: { authorization: "Bearer lp_" + "x".repeat(43) } });
    expect(res.status).toBe(401);
    expect((await res.json()).error.code).toBe("invalid_token");
  });

  it("refuses each project role below the operation's requirement (route × role table)", async () => {
    let checked = 0;
    for (const op of ops.filter((o) => o.auth.kind === "user" && o.auth.role && o.path.includes("{"))) {
      const required = ROLES.indexOf(op.auth.role as (typeof ROLES)[number]);
      for (const role of ROLES.slice(0, required)) {
        const res = await call(handlerOf(op.operationId), op.method, concretePath(op.path), { headers: { authorization: `Bearer ${tokens[role]}` }, body: {} });
        expect(res.status, `${role} on ${op.method} ${op.path}`).toBe(403);
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(40);
  });

  it("refuses global-admin operations to a project admin", async () => {
    for (const op of ops.filter((o) => o.auth.globalRole === "admin")) {
      const res = await call(handlerOf(op.operationId), op.method, concretePath(op.path), { headers: { authorization: `Bearer ${tokens.admin}` }, body: {} });
      expect(res.status, `${op.method} ${op.path}`).toBe(403);
    }
  });

  it("refuses a token without the operation's scope", async () => {
    const admin = await t.db.user.findUniqueOrThrow({ where: { email: "admin@a.test" } });
    for (const op of ops.filter((o) => o.auth.kind === "user" && o.auth.scope && o.auth.scope !== "admin")) {
      const scope = op.auth.scope!;
      const others = ["runs:read", "models:read", "deployments:read", "inference:invoke"].filter((s) => s !== scope && s !== scope.replace(":write", ":read"));
      const { secret } = await tokenFor(admin ? t.db : t.db, admin.id, others);
      const res = await call(handlerOf(op.operationId), op.method, concretePath(op.path), { headers: { authorization: `Bearer ${secret}` }, body: { projectId: fx.projectId } });
      expect(res.status, `${op.method} ${op.path} without ${scope}`).toBe(403);
      expect((await res.json()).error.code).toBe("insufficient_scope");
    }
  });
});
