// Request contracts (issue 17, items 9–11 and 13): strict bodies, bounded strings and params, validated cursors and
// ranges, Idempotency-Key reuse with another body, and discoverable metric keys.
import { useTestDb } from "@loraplane/db/testing";
import { ingestMetricPoints } from "@loraplane/services";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildOpenApiDocument } from "../../src/server/api/openapi.ts";
import { serverContext } from "../../src/server/context.ts";
import { API_ROUTES } from "../../src/server/routes/index.ts";
import { BASE, call, configureEnv, makeProject, makeUser, type TFixture, tokenFor } from "./fixtures.ts";

const t = useTestDb("web-contracts");
const h = (operationId: string) => API_ROUTES.find((r) => r.def.operationId === operationId)!.handler;
let a: TFixture;
let adminToken = "";
let engineerToken = "";
const bearer = (s: string) => ({ authorization: `Bearer ${s}` });

type TIssue = { path: string; message: string };
async function expect400(res: Response, path: string) {
  const body = (await res.json()) as { error: { code: string; message: string; issues?: TIssue[] } };
  expect(res.status, JSON.stringify(body)).toBe(400);
  expect(body.error.issues?.map((i) => i.path), JSON.stringify(body)).toContain(path);
  return body.error;
}

beforeAll(async () => {
  configureEnv(t.url);
  a = await makeProject(t.db, "con-a");
  const admin = await makeUser(t.db, "root@con.test", "admin");
  const engineer = await makeUser(t.db, "eng@con.test");
  await t.db.projectMember.createMany({ data: [{ projectId: a.projectId, userId: engineer.id, role: "engineer" }, { projectId: a.projectId, userId: admin.id, role: "admin" }] });
  adminToken = (await tokenFor(t.db, admin.id)).secret;
  engineerToken = (await tokenFor(t.db, engineer.id)).secret;
});

afterAll(async () => {
  await serverContext().queue().close();
});

describe("strict request bodies (item 9)", () => {
  it("refuses an unknown field with 400 naming it, and creates nothing", async () => {
    const before = await t.db.apiToken.count();
    const res = await call(h("createToken"), "post", "/api/v1/tokens", { headers: bearer(adminToken), body: { name: "ci", scopes: ["runs:read"], expiresInDays: 30 } });
    const error = await expect400(res, "expiresInDays");
    expect(error.message).toContain("expiresInDays");
    expect(await t.db.apiToken.count()).toBe(before);
  });

  it("refuses an unknown top-level key on a trigger, and unknown nested keys", async () => {
    const trig = await call(h("triggerRun"), "post", `/api/v1/pipelines/${a.pipelineId}/runs`, { headers: bearer(engineerToken), body: { parms: { lr: 1 } } });
    await expect400(trig, "parms");
    const members = await call(h("setMembers"), "put", `/api/v1/projects/${a.projectId}/members`, {
      headers: bearer(adminToken),
      body: { members: [{ userId: "u1", role: "viewer", admin: true }] },
    });
    await expect400(members, "members[0].admin");
  });

  it("bounds trigger params: a 1 MB value, a long key and too many keys are 400", async () => {
    const url = `/api/v1/pipelines/${a.pipelineId}/runs`;
    const big = await call(h("triggerRun"), "post", url, { headers: bearer(engineerToken), body: { params: { "training.learningRate": "x".repeat(1_000_000) } } });
    await expect400(big, "params.training.learningRate");
    const longKey = await call(h("triggerRun"), "post", url, { headers: bearer(engineerToken), body: { params: { ["k".repeat(300)]: 1 } } });
    expect(longKey.status).toBe(400);
    const many = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`k${i}`, i]));
    const tooMany = await call(h("triggerRun"), "post", url, { headers: bearer(engineerToken), body: { params: many } });
    await expect400(tooMany, "params");
    expect(await t.db.pipelineRun.count({ where: { pipelineId: a.pipelineId } })).toBe(1);
  });

  it("documents every request body as closed and every string in it with a maximum length", () => {
    const doc = buildOpenApiDocument(BASE) as unknown as { paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: unknown }> } }>> };
    const problems: string[] = [];
    const walk = (schema: unknown, where: string) => {
      if (!schema || typeof schema !== "object") return;
      const s = schema as Record<string, unknown>;
      if (s.type === "object" && s.properties && s.additionalProperties !== false) problems.push(`${where}: open object`);
      if (s.type === "string" && s.maxLength === undefined && s.enum === undefined && s.format === undefined && s.pattern === undefined) problems.push(`${where}: string without maxLength`);
      if (s.type === "object" && !s.properties && s.additionalProperties !== false && s.maxProperties === undefined && s.additionalProperties !== undefined) {
        problems.push(`${where}: map without maxProperties`);
      }
      for (const [k, v] of Object.entries(s)) {
        if (k === "properties" && v && typeof v === "object") for (const [p, ps] of Object.entries(v)) walk(ps, `${where}.${p}`);
        else if (typeof v === "object") walk(v, `${where}/${k}`);
      }
    };
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        const schema = op.requestBody?.content["application/json"]?.schema;
        if (schema) walk(schema, `${method} ${path}`);
      }
    }
    expect(problems.join("\n")).toBe("");
  });
});

describe("cursors and ranges (item 10)", () => {
  it("refuses an overflowing samples cursor with 400 (not 500)", async () => {
    for (const cursor of ["1e30", "9".repeat(30), "2147483648", "-1"]) {
      const res = await call(h("listRunSamples"), "get", `/api/v1/runs/${a.runId}/samples?cursor=${cursor}`, { headers: bearer(engineerToken) });
      await expect400(res, "query.cursor");
    }
    const ok = await call(h("listRunSamples"), "get", `/api/v1/runs/${a.runId}/samples?cursor=0`, { headers: bearer(engineerToken) });
    expect(ok.status).toBe(200);
  });

  it("refuses a runs cursor that names no run, instead of returning the first page", async () => {
    for (const cursor of ["../../etc/passwd", "nosuchrun000000000000000"]) {
      const res = await call(h("listRuns"), "get", `/api/v1/runs?projectId=${a.projectId}&cursor=${encodeURIComponent(cursor)}`, { headers: bearer(engineerToken) });
      await expect400(res, "query.cursor");
    }
  });

  it("refuses an overflowing audit cursor", async () => {
    const res = await call(h("listAudit"), "get", `/api/v1/audit?cursor=${"9".repeat(30)}`, { headers: bearer(adminToken) });
    await expect400(res, "query.cursor");
  });

  it("refuses deployment metrics with until before since", async () => {
    const q = "since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z";
    const res = await call(h("getDeploymentMetrics"), "get", `/api/v1/deployments/${a.deploymentId}/metrics?${q}`, { headers: bearer(engineerToken) });
    await expect400(res, "query.until");
  });
});

describe("Idempotency-Key (item 11)", () => {
  it("answers 422 when the same key comes with a different body, and 200 with the original run for the same body", async () => {
    const url = `/api/v1/pipelines/${a.pipelineId}/runs`;
    const send = (body: unknown) => call(h("triggerRun"), "post", url, { headers: { ...bearer(engineerToken), "idempotency-key": "deploy-7" }, body });
    const first = await send({ gitRef: "main", params: { "training.learningRate": 0.001, "training.epochs": 2 } });
    expect(first.status).toBe(201);
    const run = (await first.json()).run;
    // The same body with its keys in another order is the same request.
    const again = await send({ params: { "training.epochs": 2, "training.learningRate": 0.001 }, gitRef: "main" });
    expect(again.status).toBe(200);
    expect((await again.json()).run.id).toBe(run.id);
    const other = await send({ gitRef: "main", params: { "training.learningRate": 0.002, "training.epochs": 2 } });
    const body = await other.json();
    expect(other.status, JSON.stringify(body)).toBe(422);
    expect(body.error.code).toBe("idempotency_key_reused");
    expect(body.error.message).toContain(run.id);
    expect(await t.db.pipelineRun.count({ where: { idempotencyKey: "deploy-7" } })).toBe(1);
  });

  it("documents the 422 in OpenAPI", () => {
    const doc = buildOpenApiDocument(BASE) as unknown as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
    expect(Object.keys(doc.paths["/api/v1/pipelines/{pipelineId}/runs"]!.post!.responses)).toContain("422");
  });
});

describe("metric keys (item 13)", () => {
  it("lists a run's metric keys, and an unknown ?keys= answers with the keys the run has", async () => {
    await ingestMetricPoints(t.db, a.runId, [
      { key: "train/loss", step: 1, value: 2.5 },
      { key: "train/loss", step: 2, value: 2.1 },
      { key: "eval/exact_match", step: 2, value: 0.4 },
    ]);
    const list = await call(h("listRunMetricKeys"), "get", `/api/v1/runs/${a.runId}/metric-keys`, { headers: bearer(engineerToken) });
    expect(list.status).toBe(200);
    expect((await list.json()).items).toEqual([
      { key: "eval/exact_match", points: 1, firstStep: 2, lastStep: 2 },
      { key: "train/loss", points: 2, firstStep: 1, lastStep: 2 },
    ]);
    // Not a 400: the dashboard asks for keys a young run has not reported yet; the run's keys show the right name.
    const unknown = await call(h("getRunMetrics"), "get", `/api/v1/runs/${a.runId}/metrics?keys=loss`, { headers: bearer(engineerToken) });
    expect(unknown.status).toBe(200);
    expect(await unknown.json()).toEqual({ missingKeys: ["loss"], availableKeys: ["eval/exact_match", "train/loss"], series: [] });
    const partial = await call(h("getRunMetrics"), "get", `/api/v1/runs/${a.runId}/metrics?keys=train/loss,loss`, { headers: bearer(engineerToken) });
    const body = await partial.json();
    expect(partial.status).toBe(200);
    expect(body.series.map((s: { key: string }) => s.key)).toEqual(["train/loss"]);
    expect(body.missingKeys).toEqual(["loss"]);
  });
});
