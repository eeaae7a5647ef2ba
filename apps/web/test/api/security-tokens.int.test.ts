// Issue #11 (low): a project-bound admin token cannot mint an unbound token (or one for another project), no token
// grants scopes it lacks (checkTokenMinting; creating tokens needs the admin scope today, which covers all), and a project-bound token reaches only its project's tokens.
import { useTestDb } from "@loraplane/db/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { API_ROUTES } from "../../src/server/routes/index.ts";
import { call, configureEnv, makeProject, makeUser, sessionCookie, type TFixture, tokenFor } from "./fixtures.ts";

const t = useTestDb("web-sec-tokens");
const h = (operationId: string) => API_ROUTES.find((r) => r.def.operationId === operationId)!.handler;
let a: TFixture;
let b: TFixture;
let adminId = "";
let boundAdmin = "";

beforeAll(async () => {
  configureEnv(t.url);
  a = await makeProject(t.db, "tok-a");
  b = await makeProject(t.db, "tok-b");
  adminId = (await makeUser(t.db, "root@tokens.test", "admin")).id;
  boundAdmin = (await tokenFor(t.db, adminId, ["admin"], a.projectId)).secret;
});

const create = (secret: string, body: Record<string, unknown>) =>
  call(h("createToken"), "post", "/api/v1/tokens", { headers: { authorization: `Bearer ${secret}` }, body: { name: "minted", ...body } });

describe("token minting", () => {
  it("a project-bound admin token cannot create an unbound token", async () => {
    const res = await create(boundAdmin, { scopes: ["admin"] });
    expect(res.status).toBe(403);
    expect((await res.json()).error.issues[0].path).toBe("projectId");
  });

  it("nor one bound to another project", async () => {
    const res = await create(boundAdmin, { scopes: ["runs:read"], projectId: b.projectId });
    expect([403, 404]).toContain(res.status);
  });

  it("but may create one bound to its own project", async () => {
    const res = await create(boundAdmin, { scopes: ["runs:read"], projectId: a.projectId });
    expect(res.status).toBe(201);
    expect((await res.json()).token.projectId).toBe(a.projectId);
  });

  it("a browser session of an admin may still create unbound tokens", async () => {
    const res = await call(h("createToken"), "post", "/api/v1/tokens", {
      headers: { cookie: await sessionCookie(adminId), origin: "http://127.0.0.1:3100" },
      body: { name: "from the UI", scopes: ["runs:read"] },
    });
    expect(res.status).toBe(201);
    expect((await res.json()).token.projectId).toBeNull();
  });

  it("a project-bound token lists and revokes only its project's tokens", async () => {
    const unbound = await tokenFor(t.db, adminId, ["runs:read"], null);
    const listed = await call(h("listTokens"), "get", "/api/v1/tokens", { headers: { authorization: `Bearer ${boundAdmin}` } });
    const items = (await listed.json()).items as { id: string; projectId: string | null }[];
    expect(items.length).toBeGreaterThan(0);
    expect(items.every((i) => i.projectId === a.projectId)).toBe(true);
    const revoke = await call(h("revokeToken"), "delete", `/api/v1/tokens/${unbound.id}`, { headers: { authorization: `Bearer ${boundAdmin}` } });
    expect(revoke.status).toBe(404);
  });
});
