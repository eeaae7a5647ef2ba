// A 4-point sweep on the worker with the local executor. The workload is the fake runtime stand-in the engine tests
// use (same stdout protocol, milliseconds instead of minutes), whose eval honours eval.maxSamples like the runtime:
// the sweep varies it so each point measures a different exact_match and the best is a single, known point.
import { randomBytes } from "node:crypto";
import { useTestDb } from "@loraplane/db/testing";
import { advanceSweep, createSweep, getSweepView, registerBestOfSweep } from "@loraplane/services";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TWorkerApp } from "../src/worker-app.ts";
import { makeDataDirs, seedProject, waitFor, startFakeWorker, stopFakeWorker } from "./helpers/fixtures.ts";

const t = useTestDb("sweeps");
// Half the rows are answered right: the first n rows score 1.0 for n ≤ 4, then 4/n.
const dirs = makeDataDirs(0.5);
const prefix = `lpq-sweep-${randomBytes(4).toString("hex")}`;
let app: TWorkerApp;

beforeAll(async () => {
  app = await startFakeWorker(t.db, dirs, prefix, { concurrency: 6, heartbeatTimeoutS: 10 });
});
afterAll(async () => {
  await stopFakeWorker(app);
});

const deps = () => ({ db: t.db, queue: app.queue });
const actor = (userId: string) => ({ type: "user" as const, userId });

/** Most runs of the sweep that were active at one instant, from Postgres' own timestamps (created → finished). */
async function peakActive(sweepId: string): Promise<number> {
  const runs = await t.db.pipelineRun.findMany({ where: { sweepId }, select: { createdAt: true, finishedAt: true } });
  const events = runs.flatMap((r) => [
    { at: r.createdAt.getTime(), d: 1 },
    { at: (r.finishedAt ?? new Date(8.64e15)).getTime(), d: -1 },
  ]);
  // A run that ends at the same millisecond another starts freed its slot first.
  events.sort((a, b) => a.at - b.at || a.d - b.d);
  let active = 0;
  let peak = 0;
  for (const e of events) peak = Math.max(peak, (active += e.d));
  return peak;
}

describe("sweeps", () => {
  it("runs a 4-point sweep with at most 2 runs active, picks the best by exact_match and registers it", async () => {
    const s = await seedProject(t.db, dirs, {
      training: { maxSteps: 20 },
      eval: { metrics: ["rouge_l", "exact_match"], thresholds: [{ metric: "rouge_l", comparator: ">=", value: 0.4 }] },
      // A sweep never deploys: its points stop after register (which records nothing for them).
      deploy: null,
    });
    const { sweep, triggered } = await createSweep(deps(), {
      projectId: s.projectId,
      pipelineId: s.pipelineId,
      actor: actor(s.userId),
      body: { grid: { "eval.maxSamples": [8, 6, 3, 5] }, metric: "exact_match", direction: "max", concurrency: 2 },
    });
    expect(triggered).toBe(2);
    expect(await t.db.pipelineRun.count({ where: { sweepId: sweep.id } })).toBe(2);

    // Sampled while it runs as well as computed from the timestamps afterwards.
    let sampledPeak = 0;
    const done = await waitFor(async () => {
      const active = await t.db.pipelineRun.count({ where: { sweepId: sweep.id, status: { in: ["queued", "running", "waiting_approval"] } } });
      sampledPeak = Math.max(sampledPeak, active);
      const row = await t.db.sweep.findUniqueOrThrow({ where: { id: sweep.id }, select: { status: true } });
      return row.status === "completed" ? row : null;
    }, 90_000, "the sweep to complete");
    expect(done.status).toBe("completed");
    expect(sampledPeak).toBeLessThanOrEqual(2);
    expect(await peakActive(sweep.id)).toBe(2);

    const view = await getSweepView(t.db, sweep.id);
    expect(view.counts).toEqual({ total: 4, active: 0, finished: 4, pending: 0 });
    expect(view.points.map((p) => p.run?.status)).toEqual(["succeeded", "succeeded", "succeeded", "succeeded"]);
    // 8 rows → 4/8, 6 → 4/6, 3 → 3/3, 5 → 4/5.
    expect(view.points.map((p) => p.value)).toEqual([0.5, 4 / 6, 1, 0.8]);
    expect(view.best).toMatchObject({ index: 2, value: 1 });
    // Each point carried its own params and idempotency key; no point ran twice.
    const runs = await t.db.pipelineRun.findMany({ where: { sweepId: sweep.id }, select: { params: true, idempotencyKey: true, trigger: true, resolvedSpec: true } });
    expect(runs.map((r) => r.idempotencyKey).sort()).toEqual([0, 1, 2, 3].map((i) => `sweep:${sweep.id}:${i}`));
    expect(runs.every((r) => r.trigger === "sweep")).toBe(true);
    // Nothing was registered by the points themselves.
    expect(await t.db.modelVersion.count({ where: { projectId: s.projectId } })).toBe(0);
    expect(view.canRegisterBest).toBe(true);

    // Advancing a completed sweep again changes nothing (idempotent).
    expect(await advanceSweep(deps(), sweep.id)).toEqual({ triggered: [], status: "completed" });
    expect(await t.db.pipelineRun.count({ where: { sweepId: sweep.id } })).toBe(4);

    const registered = await registerBestOfSweep(deps(), { sweepId: sweep.id, actor: actor(s.userId) });
    expect(registered).toMatchObject({ runId: view.best!.runId, created: true, modelVersion: { modelName: "demo-model", version: 1 } });
    const version = await t.db.modelVersion.findUniqueOrThrow({ where: { id: registered.modelVersion.id }, select: { runId: true, lineage: true } });
    expect(version.runId).toBe(view.best!.runId);
    expect(version.lineage).toMatchObject({ run: { params: { "eval.maxSamples": 3 } } });
    // Registering again returns the same version; the page no longer offers it.
    expect((await registerBestOfSweep(deps(), { sweepId: sweep.id, actor: actor(s.userId) })).created).toBe(false);
    const after = await getSweepView(t.db, sweep.id);
    expect(after.canRegisterBest).toBe(false);
    expect(after.registered).toMatchObject({ id: registered.modelVersion.id, version: 1 });
  }, 120_000);

  it("refuses an unsweepable path, a metric the eval does not compute and a zero concurrency, with field paths", async () => {
    const s = await seedProject(t.db, dirs);
    const create = (body: unknown) => createSweep(deps(), { projectId: s.projectId, pipelineId: s.pipelineId, actor: actor(s.userId), body });
    await expect(create({ grid: { "model.baseModel": ["/x"] }, metric: "rouge_l", concurrency: 0 })).rejects.toMatchObject({
      status: 400,
      issues: expect.arrayContaining([expect.objectContaining({ path: "concurrency" }), expect.objectContaining({ path: "grid.model.baseModel" })]),
    });
    await expect(create({ grid: { "training.learningRate": [1e-4] }, metric: "bleu" })).rejects.toMatchObject({ status: 400, issues: [expect.objectContaining({ path: "metric" })] });
    await expect(create({ grid: { "training.lora.r": [0] }, metric: "rouge_l" })).rejects.toMatchObject({ status: 400, issues: [expect.objectContaining({ path: expect.stringMatching(/^points\[0\]\.training\.lora\.r/) })] });
    expect(await t.db.sweep.count({ where: { projectId: s.projectId } })).toBe(0);
  });

  it("a crash between a run's end and the next trigger is repaired from Postgres by the next advance (the reconcile tick's call)", async () => {
    const s = await seedProject(t.db, dirs, { deploy: null });
    // Stored as if created and then the process died before triggering anything.
    const sweep = await t.db.sweep.create({
      data: { projectId: s.projectId, pipelineId: s.pipelineId, spec: {}, objectiveMetric: "rouge_l", direction: "max", concurrency: 2, points: [{ "training.seed": 1 }, { "training.seed": 2 }, { "training.seed": 3 }] },
      select: { id: true },
    });
    // Two concurrent advances (an event and the tick) fill the two slots once between them.
    const [a, b] = await Promise.all([advanceSweep(deps(), sweep.id), advanceSweep(deps(), sweep.id)]);
    expect([...a.triggered, ...b.triggered].sort()).toEqual([0, 1]);
    expect(await t.db.pipelineRun.count({ where: { sweepId: sweep.id } })).toBe(2);
    // The reconcile tick finishes the job without any event from this test.
    await waitFor(async () => (await t.db.sweep.findUniqueOrThrow({ where: { id: sweep.id }, select: { status: true } })).status === "completed", 60_000, "the sweep to complete");
    expect(await t.db.pipelineRun.count({ where: { sweepId: sweep.id } })).toBe(3);
    expect(await peakActive(sweep.id)).toBeLessThanOrEqual(2);
  }, 90_000);
});
