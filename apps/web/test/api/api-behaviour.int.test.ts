import { createHash } from "node:crypto";
import { useTestDb } from "@loraplane/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serverContext } from "../../src/server/context.ts";
import { API_ROUTES } from "../../src/server/routes/index.ts";
import { BASE, call, configureEnv, makeProject, makeUser, sessionCookie, type TFixture, tokenFor } from "./fixtures.ts";

const t = useTestDb("web-api");
const h = (operationId: string) => API_ROUTES.find((r) => r.def.operationId === operationId)!.handler;
let a: TFixture;
let b: TFixture;
let engineer: { id: string };
let approver: { id: string };
let engineerToken = "";
let approverToken = "";

beforeAll(async () => {
  configureEnv(t.url);
  a = await makeProject(t.db, "beh-a");
  b = await makeProject(t.db, "beh-b");
  engineer = await makeUser(t.db, "eng@a.test");
  approver = await makeUser(t.db, "appr@a.test");
  await t.db.projectMember.createMany({ data: [{ projectId: a.projectId, userId: engineer.id, role: "engineer" }, { projectId: a.projectId, userId: approver.id, role: "approver" }] });
  engineerToken = (await tokenFor(t.db, engineer.id)).secret;
  approverToken = (await tokenFor(t.db, approver.id)).secret;
});

afterAll(async () => {
  await serverContext().queue().close();
});

const bearer = (s: string) => ({ authorization: `Bearer ${s}` });

describe("API behaviour", () => {
  it("names each bad field in validation errors", async () => {
    const res = await call(h("createEnvironment"), "post", `/api/v1/projects/${a.projectId}/environments`, {
      headers: bearer((await tokenFor(t.db, (await t.db.user.create({ data: { email: "root@a.test", role: "admin" } })).id)).secret),
      body: { name: "Bad Name", tier: "qa" },
    });
    expect(res.status).toBe(400);
    const body = await res.json();
    expect(body.error.code).toBe("validation_failed");
    expect(body.error.issues.map((i: { path: string }) => i.path).sort()).toEqual(["name", "namespace", "tier"]);
  });

  it("reports invalid pipeline specs with paths under spec", async () => {
    const res = await call(h("createPipeline"), "post", `/api/v1/projects/${a.projectId}/pipelines`, {
      headers: bearer(engineerToken),
      body: { spec: { name: "p2", model: { name: "m", baseModel: "x" }, dataset: { name: "ds", version: "v1" }, training: { learningRate: -1 } } },
    });
    expect(res.status).toBe(400);
    expect((await res.json()).error.issues.map((i: { path: string }) => i.path)).toContain("spec.training.learningRate");
  });

  it("returns the same run for the same Idempotency-Key", async () => {
    const send = () => call(h("triggerRun"), "post", `/api/v1/pipelines/${a.pipelineId}/runs`, { headers: { ...bearer(engineerToken), "idempotency-key": "ci-42" }, body: {} });
    const first = await send();
    const firstBody = await first.json();
    expect(first.status, JSON.stringify(firstBody)).toBe(201);
    const second = await send();
    expect(second.status).toBe(200);
    const secondBody = await second.json();
    expect(secondBody.run.id).toBe(firstBody.run.id);
    expect(secondBody.created).toBe(false);
    expect(await t.db.pipelineRun.count({ where: { idempotencyKey: "ci-42" } })).toBe(1);
    const audit = await t.db.auditLog.count({ where: { subjectId: firstBody.run.id } });
    expect(audit).toBeGreaterThan(0);
  });

  it("paginates runs with a cursor, without gaps or repeats", async () => {
    for (let i = 0; i < 5; i++) {
      await t.db.pipelineRun.create({ data: { projectId: a.projectId, pipelineId: a.pipelineId, number: 100 + i, trigger: "api", specVersion: 1, resolvedSpec: {} } });
    }
    const total = await t.db.pipelineRun.count({ where: { projectId: a.projectId } });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const q: string = `/api/v1/runs?projectId=${a.projectId}&limit=2${cursor ? `&cursor=${cursor}` : ""}`;
      const res = await call(h("listRuns"), "get", q, { headers: bearer(engineerToken) });
      const body = (await res.json()) as { items: { id: string }[]; nextCursor: string | null };
      seen.push(...body.items.map((r) => r.id));
      cursor = body.nextCursor;
    } while (cursor);
    expect(seen.length).toBe(total);
    expect(new Set(seen).size).toBe(total);
  });

  it("refuses self-approval", async () => {
    await t.db.approvalRequest.update({ where: { id: a.approvalId }, data: { requestedById: approver.id } });
    const res = await call(h("approveApproval"), "post", `/api/v1/approvals/${a.approvalId}/approve`, { headers: bearer(approverToken), body: {} });
    expect(res.status).toBe(403);
    expect((await t.db.approvalRequest.findUniqueOrThrow({ where: { id: a.approvalId } })).status).toBe("pending");
  });

  it("hides another project's objects by id (404, nothing changed)", async () => {
    for (const [op, method, path] of [
      ["getRun", "get", `/api/v1/runs/${b.runId}`],
      ["getPipeline", "get", `/api/v1/pipelines/${b.pipelineId}`],
      ["cancelRun", "post", `/api/v1/runs/${b.runId}/cancel`],
      ["deletePipeline", "delete", `/api/v1/pipelines/${b.pipelineId}`],
      ["rollbackDeployment", "post", `/api/v1/deployments/${b.deploymentId}/rollback`],
    ] as const) {
      const res = await call(h(op), method, path, { headers: bearer(engineerToken), body: {} });
      expect(res.status, `${method} ${path}`).toBe(404);
    }
    expect((await t.db.pipeline.findUniqueOrThrow({ where: { id: b.pipelineId } })).archivedAt).toBeNull();
    const list = await call(h("listRuns"), "get", `/api/v1/runs?projectId=${b.projectId}`, { headers: bearer(engineerToken) });
    expect(list.status).toBe(404);
  });

  it("stores only the token's hash and refuses revoked and expired tokens", async () => {
    const { secret, id } = await tokenFor(t.db, engineer.id);
    const row = await t.db.apiToken.findUniqueOrThrow({ where: { id } });
    expect(row.secretHash).toBe(createHash("sha256").update(secret).digest("hex"));
    expect(JSON.stringify(row)).not.toContain(secret.slice(10));
    const me = () => call(h("getMe"), "get", "/api/v1/me", { headers: bearer(secret) });
    expect((await me()).status).toBe(200);
    expect((await t.db.apiToken.findUniqueOrThrow({ where: { id } })).lastUsedAt).not.toBeNull();
    await t.db.apiToken.update({ where: { id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    expect((await me()).status).toBe(401);
    await t.db.apiToken.update({ where: { id }, data: { expiresAt: null } });
    const revoke = await call(h("revokeToken"), "delete", `/api/v1/tokens/${id}`, { headers: bearer(engineerToken) });
    expect(revoke.status).toBe(200);
    expect((await me()).status).toBe(401);
  });

  it("accepts session cookies, refuses cross-site writes and sessions past the absolute timeout", async () => {
    const cookie = await sessionCookie(engineer.id);
    const me = await call(h("getMe"), "get", "/api/v1/me", { headers: { cookie } });
    expect(me.status).toBe(200);
    const body = { name: "ds-csrf" };
    const evil = await call(h("createDataset"), "post", `/api/v1/projects/${a.projectId}/datasets`, { headers: { cookie, origin: "https://evil.example" }, body });
    expect(evil.status).toBe(403);
    expect((await evil.json()).error.code).toBe("csrf_failed");
    const ok = await call(h("createDataset"), "post", `/api/v1/projects/${a.projectId}/datasets`, { headers: { cookie, origin: BASE }, body });
    expect(ok.status).toBe(201);
    const old = await sessionCookie(engineer.id, Math.floor(Date.now() / 1000) - 8 * 24 * 3600);
    expect((await call(h("getMe"), "get", "/api/v1/me", { headers: { cookie: old } })).status).toBe(401);
  });
});
