// Server additions the dashboard screens rely on (issue 17): audit filters by actor type and subject, artifacts that
// say whether they can be downloaded, and downloads that carry every byte of the file.
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { useTestDb } from "@loraplane/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serverContext } from "../../src/server/context.ts";
import { API_ROUTES } from "../../src/server/routes/index.ts";
import { call, configureEnv, makeProject, makeUser, type TFixture, tokenFor } from "./fixtures.ts";

const t = useTestDb("web-dash");
const h = (operationId: string) => API_ROUTES.find((r) => r.def.operationId === operationId)!.handler;
let a: TFixture;
let adminToken = "";
let admin: { id: string };

beforeAll(async () => {
  configureEnv(t.url);
  a = await makeProject(t.db, "dash-a");
  admin = await makeUser(t.db, "admin@dash.test", "admin");
  adminToken = (await tokenFor(t.db, admin.id)).secret;
});

afterAll(async () => {
  await serverContext().queue().close();
});

const bearer = (s: string) => ({ authorization: `Bearer ${s}` });

describe("dashboard support in the API", () => {
  it("filters the audit log by actor type and by subject", async () => {
    await t.db.auditLog.createMany({
      data: [
        { projectId: null, actorType: "user", actorId: admin.id, action: "user.create", subjectType: "user", subjectId: "u1" },
        { projectId: null, actorType: "user", actorId: admin.id, action: "token.create", subjectType: "token", subjectId: "t1" },
        { projectId: a.projectId, actorType: "system", actorId: null, action: "deployment.advance", subjectType: "deployment", subjectId: a.deploymentId },
        { projectId: a.projectId, actorType: "user", actorId: admin.id, action: "run.cancel", subjectType: "run", subjectId: a.runId },
      ],
    });
    const byUser = await call(h("listAudit"), "get", "/api/v1/audit?actorType=user&limit=100", { headers: bearer(adminToken) });
    expect(byUser.status).toBe(200);
    const users = (await byUser.json()).items as { action: string; actorType: string }[];
    expect(users.map((e) => e.action)).toEqual(expect.arrayContaining(["user.create", "token.create", "run.cancel"]));
    expect(users.every((e) => e.actorType === "user")).toBe(true);

    const cancel = await call(h("listAudit"), "get", `/api/v1/audit?projectId=${a.projectId}&subjectId=${a.runId}&action=run.cancel`, { headers: bearer(adminToken) });
    expect((await cancel.json()).items.map((e: { actorId: string }) => e.actorId)).toEqual([admin.id]);

    const bad = await call(h("listAudit"), "get", "/api/v1/audit?actorType=robot", { headers: bearer(adminToken) });
    expect(bad.status).toBe(400);
  });

  it("marks which artifacts can be downloaded and serves a file with all its bytes", async () => {
    const dataDir = process.env.LORAPLANE_DATA_DIR!;
    // Files are served only from the run's own directory on the data volume (issue 11, resolveRunFile).
    const dir = path.join(dataDir, "runs", a.runId, "eval-1", "output");
    await mkdir(path.join(dir, "adapter"), { recursive: true });
    const text = JSON.stringify({ metrics: { rouge_l: 0.5 }, pad: "x".repeat(76_000) });
    await writeFile(path.join(dir, "eval_report.json"), text);
    const report = await t.db.artifact.create({ data: { runId: a.runId, kind: "eval_report", uri: pathToFileURL(path.join(dir, "eval_report.json")).href }, select: { id: true } });
    await t.db.artifact.create({ data: { runId: a.runId, kind: "checkpoint", uri: pathToFileURL(path.join(dir, "adapter")).href } });

    const list = await call(h("listRunArtifacts"), "get", `/api/v1/runs/${a.runId}/artifacts`, { headers: bearer(adminToken) });
    const items = (await list.json()).items as { id: string; kind: string; downloadable: boolean }[];
    // A folder (checkpoint) downloads as a .tar.gz; the fixture's adapter lies outside the run's directory.
    expect(Object.fromEntries(items.map((i) => [i.kind, i.downloadable]))).toEqual({ adapter: false, eval_report: true, checkpoint: true });

    const download = await call(h("downloadArtifact"), "get", `/api/v1/artifacts/${report.id}/download`, { headers: bearer(adminToken) });
    expect(download.status).toBe(200);
    const body = Buffer.from(await download.arrayBuffer());
    expect(body.length).toBe(Buffer.byteLength(text));
    expect(download.headers.get("content-length")).toBe(String(body.length));
  });

  it("keeps the spec text as written, records each version, and refuses text that differs from the spec", async () => {
    const text = (lr: number) =>
      [
        "apiVersion: loraplane/v1",
        "name: text-kept",
        "# comments and key order survive",
        "model: { name: m, baseModel: /models/tiny }",
        "dataset: { name: ds, version: v1 }",
        `training: { learningRate: ${lr} }`,
        "eval:",
        "  thresholds:",
        "    - { value: 0.4, metric: rouge_l, comparator: '>=' }",
        "",
      ].join("\n");
    const created = await call(h("createPipeline"), "post", `/api/v1/projects/${a.projectId}/pipelines`, { headers: bearer(adminToken), body: { specText: text(0.001) } });
    expect(created.status).toBe(201);
    const pipeline = await created.json();
    expect(pipeline.specText).toBe(text(0.001));
    expect(pipeline.spec.training.learningRate).toBe(0.001);

    const updated = await call(h("updatePipeline"), "patch", `/api/v1/pipelines/${pipeline.id}`, { headers: bearer(adminToken), body: { specText: text(0.002) } });
    expect(updated.status).toBe(200);
    const got = await (await call(h("getPipeline"), "get", `/api/v1/pipelines/${pipeline.id}`, { headers: bearer(adminToken) })).json();
    expect(got.specText).toBe(text(0.002));

    const versions = await (await call(h("listPipelineSpecVersions"), "get", `/api/v1/pipelines/${pipeline.id}/spec-versions`, { headers: bearer(adminToken) })).json();
    expect(versions.items.map((v: { version: number; specText: string }) => [v.version, v.specText])).toEqual([
      [2, text(0.002)],
      [1, text(0.001)],
    ]);

    const mismatch = await call(h("updatePipeline"), "patch", `/api/v1/pipelines/${pipeline.id}`, { headers: bearer(adminToken), body: { specText: text(0.003), spec: { ...got.spec, name: "other" } } });
    expect(mismatch.status).toBe(400);
    expect((await mismatch.json()).error.issues.map((i: { path: string }) => i.path)).toContain("specText");
  });

  it("shows which step a retried train attempt resumed from", async () => {
    await t.db.stageRun.create({ data: { runId: a.runId, stage: "train", attempt: 7, status: "running", resumedFromUri: "/runs/x/train-6/output/checkpoints/step-40", resumedFromStep: 40 } });
    const res = await call(h("getRun"), "get", `/api/v1/runs/${a.runId}`, { headers: bearer(adminToken) });
    expect(res.status).toBe(200);
    const stages = (await res.json()).stages as { stage: string; attempt: number; resumedFromStep: number | null; resumedFromUri?: string }[];
    const resumed = stages.find((s) => s.stage === "train" && s.attempt === 7)!;
    expect(resumed.resumedFromStep).toBe(40);
    // The checkpoint's path on the volume stays internal.
    expect(resumed.resumedFromUri).toBeUndefined();
  });
});
