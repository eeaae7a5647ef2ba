// The releases REST API: view, approve (403 with the separation-of-duties reason), reject, freeze, promote, rollback.
import { resolveStagePolicy } from "@loraplane/core";
import { useTestDb } from "@loraplane/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildOpenApiDocument } from "../../src/server/api/openapi.ts";
import { serverContext } from "../../src/server/context.ts";
import { API_ROUTES } from "../../src/server/routes/index.ts";
import { BASE, call, configureEnv, makeProject, makeUser, type TFixture, tokenFor } from "./fixtures.ts";

const t = useTestDb("web-releases");
const h = (operationId: string) => API_ROUTES.find((r) => r.def.operationId === operationId)!.handler;
const bearer = (s: string) => ({ authorization: `Bearer ${s}` });
let fx: TFixture;
let releaseId = "";
const tok: Record<string, string> = {};
const ids: Record<string, string> = {};

beforeAll(async () => {
  configureEnv(t.url);
  fx = await makeProject(t.db, "rel-a");
  for (const [name, role] of [["requester", "approver"], ["approver", "approver"], ["engineer", "engineer"], ["admin", "admin"], ["viewer", "viewer"]] as const) {
    const u = await makeUser(t.db, `${name}@rel.test`);
    await t.db.projectMember.create({ data: { projectId: fx.projectId, userId: u.id, role } });
    ids[name] = u.id;
    tok[name] = (await tokenFor(t.db, u.id)).secret;
  }
  const deploy = { strategy: "canary" as const, slo: { p99LatencyMs: 2000, ttftP95Ms: 800, maxErrorRate: 0.01 }, canary: { minRequests: 5 } };
  const policy = { ...resolveStagePolicy(deploy, { name: "prod", tier: "prod", requiresApproval: true }), rollout: {} };
  const r = await t.db.release.create({
    data: {
      projectId: fx.projectId,
      modelVersionId: fx.modelVersionId,
      endpointName: "chat-rel",
      requestedById: ids.requester,
      stages: { create: [{ environmentId: fx.environmentId, position: 0, policy, state: "awaiting_approval", reason: "waiting for 1 more approval(s)" }] },
    },
    select: { id: true },
  });
  releaseId = r.id;
});

afterAll(async () => {
  await serverContext().queue().close();
});

describe("releases API", () => {
  it("shows the release with who may approve, and lists releases waiting for approval", async () => {
    const res = await call(h("getRelease"), "get", `/api/v1/releases/${releaseId}`, { headers: bearer(tok.viewer!) });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.stages[0]).toMatchObject({ state: "awaiting_approval", environment: { name: "prod", tier: "prod", inferenceUrl: expect.stringMatching(/\/rel-a\/prod\/v1$/) }, approvals: { required: 1, received: 0 } });
    expect(body.stages[0].approvals.eligibleApprovers.map((u: { email: string }) => u.email).sort()).toEqual(["admin@rel.test", "approver@rel.test"]);
    const list = await call(h("listReleases"), "get", `/api/v1/projects/${fx.projectId}/releases?stageState=awaiting_approval`, { headers: bearer(tok.viewer!) });
    expect((await list.json()).items.map((x: { id: string }) => x.id)).toContain(releaseId);
    const bad = await call(h("listReleases"), "get", `/api/v1/projects/${fx.projectId}/releases?stageState=nope`, { headers: bearer(tok.viewer!) });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.issues[0].path).toBe("query.stageState");
  });

  it("refuses the requester's approval with 403 and the reason; an unknown environment is a 404", async () => {
    const res = await call(h("approveReleaseStage"), "post", `/api/v1/releases/${releaseId}/environments/prod/approve`, { headers: bearer(tok.requester!), body: { comment: "mine" } });
    expect(res.status).toBe(403);
    expect((await res.json()).error.message).toMatch(/separation of duties: you requested this run/);
    const viewer = await call(h("approveReleaseStage"), "post", `/api/v1/releases/${releaseId}/environments/prod/approve`, { headers: bearer(tok.viewer!), body: {} });
    expect(viewer.status).toBe(403);
    expect((await viewer.json()).error.message).toMatch(/approver role/);
    const missing = await call(h("approveReleaseStage"), "post", `/api/v1/releases/${releaseId}/environments/qa/approve`, { headers: bearer(tok.approver!), body: {} });
    expect(missing.status).toBe(404);
  });

  it("freezing is for admins, audited, and holds the stage; the approval is refused while it is not waiting", async () => {
    const denied = await call(h("freezeEnvironment"), "post", `/api/v1/environments/${fx.environmentId}/freeze`, { headers: bearer(tok.engineer!), body: { reason: "x" } });
    expect(denied.status).toBe(403);
    const noReason = await call(h("freezeEnvironment"), "post", `/api/v1/environments/${fx.environmentId}/freeze`, { headers: bearer(tok.admin!), body: {} });
    expect(noReason.status).toBe(400);
    const res = await call(h("freezeEnvironment"), "post", `/api/v1/environments/${fx.environmentId}/freeze`, { headers: bearer(tok.admin!), body: { reason: "quarter close" } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ frozenReason: "quarter close", frozenById: ids.admin });
    expect(await t.db.auditLog.count({ where: { action: "environment.freeze", subjectId: fx.environmentId } })).toBe(1);
    // Approving is possible while frozen, but nothing starts: the stage is blocked by the freeze.
    const approved = await call(h("approveReleaseStage"), "post", `/api/v1/releases/${releaseId}/environments/prod/approve`, { headers: bearer(tok.approver!), body: { comment: "ok" } });
    expect(approved.status).toBe(200);
    const body = await approved.json();
    expect(body.stages[0]).toMatchObject({ state: "blocked", reason: "environment prod is frozen: quarter close", approvals: { received: 1 } });
    const promote = await call(h("promoteRelease"), "post", `/api/v1/releases/${releaseId}/promote`, { headers: bearer(tok.engineer!), body: {} });
    expect(promote.status).toBe(409);
    expect((await promote.json()).error.message).toMatch(/frozen: quarter close/);
    const un = await call(h("unfreezeEnvironment"), "post", `/api/v1/environments/${fx.environmentId}/unfreeze`, { headers: bearer(tok.admin!), body: {} });
    expect((await un.json()).frozenAt).toBeNull();
    const rollback = await call(h("rollbackReleaseStage"), "post", `/api/v1/releases/${releaseId}/environments/prod/rollback`, { headers: bearer(tok.engineer!), body: { reason: "x" } });
    expect(rollback.status).toBe(409);
  });

  it("documents every release operation in OpenAPI", () => {
    const doc = buildOpenApiDocument(BASE) as unknown as { paths: Record<string, Record<string, { operationId: string }>> };
    const opIds = Object.values(doc.paths).flatMap((m) => Object.values(m).map((o) => o.operationId));
    expect(opIds).toEqual(expect.arrayContaining(["listReleases", "getRelease", "promoteRelease", "approveReleaseStage", "rejectReleaseStage", "rollbackReleaseStage", "freezeEnvironment", "unfreezeEnvironment"]));
  });
});
