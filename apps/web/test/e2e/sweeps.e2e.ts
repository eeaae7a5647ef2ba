// Sweeps and run comparison in the browser, on data seeded straight into Postgres (no worker): the pipeline's Sweeps
// tab (the form creates a real sweep through the API), a finished 4-point sweep with its chart and "Register the
// best" (the real registry service registers the seeded evaluated adapter), and the runs list → compare page.
// Fails on any console error or failed page resource. Screenshots at 1280 and 390 px.
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { createHash } from "node:crypto";
import type { Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { checkAfterTest, shot, signInAsAdmin, type TSession } from "./session";
import { startStack, type TStack } from "./stack";

const PORT = 3252;
let stack: TStack;
let session: TSession;
let page: Page;


/** A finished 4-point sweep over learning rate × LoRA rank; every run has a loss curve and eval results. */
async function seedSweep(s: TStack) {
  const { db } = s;
  const pipeline = await db.pipeline.findUniqueOrThrow({ where: { id: s.demoPipelineId }, select: { spec: true } });
  const base = structuredClone(pipeline.spec) as Record<string, Record<string, unknown>>;
  const at = (minutesAgo: number) => new Date(Date.now() - minutesAgo * 60_000);
  const points = [
    { "training.learningRate": 0.0001, "training.lora.r": 8 },
    { "training.learningRate": 0.0001, "training.lora.r": 16 },
    { "training.learningRate": 0.001, "training.lora.r": 8 },
    { "training.learningRate": 0.001, "training.lora.r": 16 },
  ];
  const scores = [0.21, 0.34, 0.79, 0.62];
  const sweep = await db.sweep.create({
    data: { projectId: s.projectId, pipelineId: s.demoPipelineId, spec: { grid: { "training.learningRate": [0.0001, 0.001], "training.lora.r": [8, 16] }, metric: "exact_match" }, objectiveMetric: "exact_match", direction: "max", concurrency: 2, points, status: "completed", finishedAt: at(5), createdById: s.admin.id },
    select: { id: true },
  });
  const runIds: string[] = [];
  for (const [i, params] of points.entries()) {
    const spec = { ...base, deploy: null, training: { ...base.training, learningRate: params["training.learningRate"], lora: { ...(base.training!.lora as object), r: params["training.lora.r"] } } };
    const run = await db.pipelineRun.create({
      data: { projectId: s.projectId, pipelineId: s.demoPipelineId, number: 50 + i, trigger: "sweep", sweepId: sweep.id, idempotencyKey: `sweep:${sweep.id}:${i}`, params, specVersion: 1, resolvedSpec: spec, status: "succeeded", createdAt: at(60 - i * 10), startedAt: at(59 - i * 10), finishedAt: at(45 - i * 10), requestedById: s.admin.id },
      select: { id: true },
    });
    runIds.push(run.id);
    // The evaluated adapter (registerModelVersion checks the eval stage's recorded digest against the artifact).
    const dir = path.join(s.dataDir, "runs", run.id, "train-1", "output", "adapter");
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, "adapter_config.json"), JSON.stringify({ r: params["training.lora.r"] }));
    const sha256 = createHash("sha256").update(`adapter ${i}`).digest("hex");
    const uri = pathToFileURL(dir).href;
    const adapter = await db.artifact.create({ data: { runId: run.id, kind: "adapter", uri, sha256 }, select: { id: true } });
    for (const [k, stage] of (["prepare", "train", "eval", "gate", "register"] as const).entries()) {
      await db.stageRun.create({
        data: { runId: run.id, stage, status: "succeeded", startedAt: at(59 - i * 10 - k), finishedAt: at(58 - i * 10 - k), result: stage === "eval" ? { adapter: { artifactId: adapter.id, uri, sha256 } } : stage === "register" ? { skipped: true } : undefined },
      });
    }
    await db.evalResult.createMany({
      data: [
        { runId: run.id, metric: "exact_match", value: scores[i]!, split: "test" },
        { runId: run.id, metric: "rouge_l", value: 0.4 + scores[i]! / 2, split: "test", threshold: 0.3, comparator: ">=", blocking: true, passed: true },
      ],
    });
    const series = await db.metricSeries.create({ data: { runId: run.id, key: "train/loss" }, select: { id: true } });
    const lr = params["training.learningRate"];
    await db.metricPoint.createMany({
      data: Array.from({ length: 300 }, (_, k) => ({ seriesId: series.id, step: (k + 1) * 5, value: 2.6 * Math.exp(-(k + 1) * lr * (params["training.lora.r"] / 8) * 4) + 0.3 + 0.05 * Math.sin(k / 3), wallTime: at(59 - i * 10) })),
    });
  }
  await db.sweep.update({ where: { id: sweep.id }, data: { bestRunId: runIds[2], bestValue: scores[2] } });
  return { sweepId: sweep.id, runIds };
}

describe("sweeps and run comparison", () => {
  let seeded: Awaited<ReturnType<typeof seedSweep>>;
  beforeAll(async () => {
    stack = await startStack({ port: PORT, label: "sweeps", worker: false });
    seeded = await seedSweep(stack);
    session = await signInAsAdmin(stack);
    page = session.page;
  });

  afterAll(async () => {
    await stack?.stop();
  });

  afterEach((ctx) => checkAfterTest(ctx, stack, session, "sweeps"));

  it("shows a finished sweep with its chart and best run, and registers the best in one action", async () => {
    await page.goto(`${stack.baseUrl}/sweeps/${seeded.sweepId}`);
    const chart = page.getByRole("figure", { name: "training.learningRate against exact_match" });
    await chart.locator(".recharts-scatter-symbol").first().waitFor();
    // Three ordinary points and the best one (a star).
    expect(await chart.locator(".recharts-scatter-symbol").count()).toBe(4);
    const best = page.locator('tr[aria-current="true"]');
    expect(await best.innerText()).toMatch(/^2\s+0\.001\s+8\s+#52\s+succeeded\s+0\.79/);
    await shot(page, "sweep");
    await page.getByRole("button", { name: "Register the best (run #52)" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Register" }).click();
    await page.getByText("registered as").waitFor();
    const version = await stack.db.modelVersion.findFirstOrThrow({ where: { runId: seeded.runIds[2] }, select: { version: true, lineage: true } });
    expect(version.lineage).toMatchObject({ run: { params: { "training.learningRate": 0.001, "training.lora.r": 8 } } });
    // Registered: the action is no longer offered.
    expect(await page.getByRole("button", { name: /Register the best/ }).count()).toBe(0);
    await page.getByRole("link", { name: `demo-assistant v${version.version}` }).waitFor();
    await shot(page, "sweep-registered");
  });

  it("creates a sweep from the pipeline page's form, refusing a bad value with its field", async () => {
    await page.goto(`${stack.baseUrl}/pipelines/${stack.demoPipelineId}`);
    await page.getByRole("tab", { name: "Sweeps" }).click();
    const form = page.getByRole("form", { name: "New sweep" });
    // A value the browser cannot check: the server refuses the point it would make, naming it.
    await form.getByLabel("Values of training.learningRate").fill("0.0002, fast");
    await form.getByLabel("Concurrency").fill("1");
    await form.getByRole("button", { name: "Start sweep" }).click();
    await form.getByRole("alert").getByText("points[1].training.learningRate", { exact: false }).waitFor();
    // The browser logs the 400 this test provoked on purpose.
    session.consoleWatch.expectSeen(/status of 400 \(Bad Request\) \(http:\/\/127\.0\.0\.1:\d+\/api\/v1\/pipelines\/[^/]+\/sweeps:/);
    await page.getByRole("link", { name: seeded.sweepId.slice(-8) }).waitFor();
    await shot(page, "pipeline-sweeps");
    await form.getByLabel("Values of training.learningRate").fill("0.0002, 0.0005");
    await form.getByLabel("Metric").selectOption("exact_match");
    await form.getByRole("button", { name: "Start sweep" }).click();
    await page.waitForURL(/\/sweeps\/[^/]+$/, { timeout: 30_000 });
    await page.getByText("0/2 finished · 1 active (at most 1)").waitFor();
    const created = await stack.db.sweep.findFirstOrThrow({ where: { pipelineId: stack.demoPipelineId, NOT: { id: seeded.sweepId } }, select: { points: true, concurrency: true, objectiveMetric: true } });
    expect(created).toEqual({ points: [{ "training.learningRate": 0.0002 }, { "training.learningRate": 0.0005 }], concurrency: 1, objectiveMetric: "exact_match" });
  });

  it("compares three runs ticked in the runs list: curves, eval metrics and spec differences", async () => {
    await page.goto(`${stack.baseUrl}/runs`);
    for (const n of [50, 52, 53]) await page.getByLabel(`Select run #${n} to compare`).check();
    await page.getByRole("link", { name: "Compare 3 runs" }).click();
    await page.waitForURL(/\/runs\/compare\?ids=/);
    const evals = page.getByRole("region", { name: "Eval metrics" });
    await evals.getByText("exact_match").waitFor();
    expect(await evals.locator("tr", { hasText: "exact_match" }).innerText()).toMatch(/exact_match\s+0\.21\s+0\.79\s+0\.62/);
    const diff = page.getByRole("region", { name: "Spec differences" });
    expect(await diff.locator("tr", { hasText: "training.learningRate" }).innerText()).toMatch(/0\.0001\s+0\.001\s+0\.001/);
    const chart = page.getByRole("figure", { name: "train/loss" });
    await chart.locator(".recharts-line").first().waitFor();
    expect(await chart.locator(".recharts-line").count()).toBe(3);
    await shot(page, "compare-runs");
  });
});
