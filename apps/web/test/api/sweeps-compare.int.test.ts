// Sweeps over REST (validation with field paths, the sweep view, register-best refusals) and run comparison: three
// runs with their specs, eval metrics and loss curves downsampled on the server; 2..10 ids of one visible project.
import { useTestDb } from "@loraplane/db/testing";
import { ingestMetricPoints } from "@loraplane/services";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serverContext } from "../../src/server/context.ts";
import { API_ROUTES } from "../../src/server/routes/index.ts";
import { call, configureEnv, makeProject, makeUser, type TFixture, tokenFor } from "./fixtures.ts";

const t = useTestDb("web-sweeps");
const h = (operationId: string) => API_ROUTES.find((r) => r.def.operationId === operationId)!.handler;
let a: TFixture;
let b: TFixture;
let engineer = "";
let viewer = "";
const runs: string[] = [];

const bearer = (s: string) => ({ authorization: `Bearer ${s}` });

beforeAll(async () => {
  configureEnv(t.url);
  a = await makeProject(t.db, "sw-a");
  b = await makeProject(t.db, "sw-b");
  const eng = await makeUser(t.db, "eng@sw.test");
  const view = await makeUser(t.db, "view@sw.test");
  await t.db.projectMember.createMany({ data: [{ projectId: a.projectId, userId: eng.id, role: "engineer" }, { projectId: a.projectId, userId: view.id, role: "viewer" }] });
  engineer = (await tokenFor(t.db, eng.id)).secret;
  viewer = (await tokenFor(t.db, view.id)).secret;
  // Three runs of project a with different learning rates, 3000 loss points each and their eval results.
  const spec = (lr: number) => ({ name: "pipe", model: { name: "m", baseModel: "/models/tiny" }, dataset: { name: "ds", version: "v1" }, training: { learningRate: lr } });
  for (const [i, lr] of [1e-4, 3e-4, 1e-3].entries()) {
    const run = await t.db.pipelineRun.create({
      data: { projectId: a.projectId, pipelineId: a.pipelineId, number: 10 + i, trigger: "api", specVersion: 1, resolvedSpec: spec(lr), params: { "training.learningRate": lr }, status: "succeeded" },
      select: { id: true },
    });
    runs.push(run.id);
    const points = Array.from({ length: 3000 }, (_, s) => ({ key: "train/loss", step: s + 1, value: (2 + i) / Math.sqrt(s + 1) }));
    for (let k = 0; k < points.length; k += 1000) await ingestMetricPoints(t.db, run.id, points.slice(k, k + 1000));
    await t.db.evalResult.createMany({ data: [{ runId: run.id, metric: "exact_match", value: 0.1 * (i + 1), split: "test" }, { runId: run.id, metric: "rouge_l", value: 0.5, split: "test" }] });
  }
});

afterAll(async () => {
  await serverContext().queue().close();
});

describe("GET /runs/compare", () => {
  it("compares three runs: specs, eval metrics side by side and loss curves downsampled on the server", async () => {
    const res = await call(h("compareRuns"), "get", `/api/v1/runs/compare?ids=${runs.join(",")}&maxPoints=200`, { headers: bearer(viewer) });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.projectId).toBe(a.projectId);
    expect(body.runs.map((r: { id: string }) => r.id)).toEqual(runs);
    expect(body.runs.map((r: { resolvedSpec: { training: { learningRate: number } } }) => r.resolvedSpec.training.learningRate)).toEqual([1e-4, 3e-4, 1e-3]);
    expect(body.metrics).toEqual(["exact_match", "rouge_l"]);
    expect(body.evals[runs[2]!]).toEqual({ exact_match: expect.closeTo(0.3, 10), rouge_l: 0.5 });
    expect(body.series).toHaveLength(3);
    for (const s of body.series) {
      expect(s).toMatchObject({ key: "train/loss", downsampled: true, totalPoints: 3000 });
      expect(s.points.length).toBeLessThanOrEqual(200);
      expect(s.points.length).toBeGreaterThan(20);
      // M4 keeps the first point of the curve.
      expect(s.points[0].step).toBe(1);
    }
  });

  it("refuses fewer than 2 or more than 10 runs, another project's run and a missing run with clear 4xx", async () => {
    const one = await call(h("compareRuns"), "get", `/api/v1/runs/compare?ids=${runs[0]},${runs[0]}`, { headers: bearer(viewer) });
    expect(one.status).toBe(400);
    expect((await one.json()).error.issues[0]).toMatchObject({ path: "query.ids", message: "list at least 2 different runs" });
    const eleven = Array.from({ length: 11 }, (_, i) => `r${i}`).join(",");
    const many = await call(h("compareRuns"), "get", `/api/v1/runs/compare?ids=${eleven}`, { headers: bearer(viewer) });
    expect(many.status).toBe(400);
    expect((await many.json()).error.issues[0].path).toBe("query.ids");
    // The viewer is no member of b: b's run does not exist for them.
    const foreign = await call(h("compareRuns"), "get", `/api/v1/runs/compare?ids=${runs[0]},${b.runId}`, { headers: bearer(viewer) });
    expect(foreign.status).toBe(404);
    expect((await foreign.json()).error.message).toContain("query.ids[1]");
    const missing = await call(h("compareRuns"), "get", `/api/v1/runs/compare?ids=${runs[0]},nosuchrun`, { headers: bearer(viewer) });
    expect(missing.status).toBe(404);
    // Someone who sees both projects still cannot mix them.
    const admin = await makeUser(t.db, "root@sw.test", "admin");
    const both = await call(h("compareRuns"), "get", `/api/v1/runs/compare?ids=${runs[0]},${b.runId}`, { headers: bearer((await tokenFor(t.db, admin.id)).secret) });
    expect(both.status).toBe(400);
    expect((await both.json()).error.issues).toEqual([expect.objectContaining({ path: "query.ids[1]" })]);
  });
});

describe("sweeps over REST", () => {
  it("refuses a bad sweep with field paths and creates nothing", async () => {
    const url = `/api/v1/pipelines/${a.pipelineId}/sweeps`;
    const bad = await call(h("createSweep"), "post", url, { headers: bearer(engineer), body: { metric: "rouge_l", grid: { "model.baseModel": ["/x"] }, concurrency: 2 } });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.issues.map((i: { path: string }) => i.path)).toContain("grid.model.baseModel");
    const zero = await call(h("createSweep"), "post", url, { headers: bearer(engineer), body: { metric: "rouge_l", grid: { "training.learningRate": [1e-4] }, concurrency: 0 } });
    expect(zero.status).toBe(400);
    expect((await zero.json()).error.issues[0].path).toBe("concurrency");
    const unknown = await call(h("createSweep"), "post", url, { headers: bearer(engineer), body: { metric: "rouge_l", grid: { "training.learningRate": [1e-4] }, parallel: 3 } });
    expect(unknown.status).toBe(400);
    expect((await unknown.json()).error.issues[0].path).toBe("parallel");
    const viewerTry = await call(h("createSweep"), "post", url, { headers: bearer(viewer), body: { metric: "rouge_l", grid: { "training.learningRate": [1e-4] } } });
    expect(viewerTry.status).toBe(403);
    expect(await t.db.sweep.count({ where: { pipelineId: a.pipelineId } })).toBe(1); // the fixture's
  });

  it("creates a sweep whose first points are triggered, shows it, and refuses register-best before any point succeeded", async () => {
    const res = await call(h("createSweep"), "post", `/api/v1/pipelines/${a.pipelineId}/sweeps`, {
      headers: bearer(engineer),
      body: { metric: "rouge_l", grid: { "training.learningRate": [1e-4, 3e-4, 1e-3] }, concurrency: 2 },
    });
    expect(res.status).toBe(201);
    const { sweep, triggered } = await res.json();
    expect(triggered).toBe(2);
    const view = await (await call(h("getSweep"), "get", `/api/v1/sweeps/${sweep.id}`, { headers: bearer(viewer) })).json();
    expect(view.counts).toEqual({ total: 3, active: 2, finished: 0, pending: 1 });
    expect(view.parameters).toEqual(["training.learningRate"]);
    expect(view.points.map((p: { run: unknown }) => p.run !== null)).toEqual([true, true, false]);
    expect(view.canRegisterBest).toBe(false);
    const early = await call(h("registerSweepBest"), "post", `/api/v1/sweeps/${sweep.id}/register-best`, { headers: bearer(engineer), body: {} });
    expect(early.status).toBe(409);
    expect((await early.json()).error.message).toContain("no best run yet");
    const list = await (await call(h("listPipelineSweeps"), "get", `/api/v1/pipelines/${a.pipelineId}/sweeps`, { headers: bearer(viewer) })).json();
    expect(list.items[0]).toMatchObject({ id: sweep.id, runs: 2, status: "running" });
    // Cancel: nothing more is triggered and the active runs are cancelled.
    const cancel = await call(h("cancelSweep"), "post", `/api/v1/sweeps/${sweep.id}/cancel`, { headers: bearer(engineer), body: {} });
    expect(await cancel.json()).toEqual({ status: "cancelling", cancelledRuns: 2 });
    expect(await t.db.pipelineRun.count({ where: { sweepId: sweep.id } })).toBe(2);
  });
});
