// Every dashboard page on data seeded straight into Postgres (no training, no worker): what a user sees after runs,
// rollouts and cancellations. Fails on any console error or failed page resource, and checks the screens of issue 17.
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { emptyHistogram, HISTOGRAM_SLOTS, recordValue, resolveSpec } from "@loraplane/core";
import { findDeploymentById, upsertServingWindows } from "@loraplane/db";
import { advanceRelease, analyseDeployment, createReleaseForRun, markNewVariantReady, startDeployment } from "@loraplane/services";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { watchConsole, type TConsoleWatch } from "./console";
import { SCREENSHOTS, startStack, type TStack } from "./stack";
import { shot } from "./session";

const PORT = 3230;
let stack: TStack;
let admin: BrowserContext;
let page: Page;
let consoleWatch: TConsoleWatch;
let seed: Awaited<ReturnType<typeof seedScreens>>;


async function signIn(context: BrowserContext, who: { email: string; password: string }): Promise<Page> {
  const p = await context.newPage();
  await p.goto(`${stack.baseUrl}/login`);
  await p.getByLabel("Email").fill(who.email);
  await p.getByLabel("Password").fill(who.password);
  await p.getByRole("button", { name: "Sign in" }).click();
  await p.waitForURL(/\/pipelines$/, { timeout: 30_000 });
  return p;
}

const CHAT_PROMPT = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nReverse the string: abc<|im_end|>\n<|im_start|>assistant\n";
const LONG_ERROR = `workload exited with code 1: ${"Traceback line that goes on and on ".repeat(40)}`;

/** Runs, artifacts, samples, logs and deployments as the worker and the controller would have left them. */
async function seedScreens(s: TStack) {
  const { db } = s;
  const pipeline = await db.pipeline.findUniqueOrThrow({ where: { id: s.demoPipelineId }, select: { spec: true } });
  const spec = structuredClone(pipeline.spec) as { training?: Record<string, unknown> } & Record<string, never>;
  spec.training = { ...spec.training, maxSteps: 1500 };
  delete spec.training.epochs;
  const envs = await db.environment.findMany({ where: { projectId: s.projectId }, select: { id: true, name: true } });
  const env = (name: string) => envs.find((e) => e.name === name)!.id;
  const at = (minutesAgo: number) => new Date(Date.now() - minutesAgo * 60_000);
  const run = (number: number, data: Record<string, unknown>) =>
    db.pipelineRun.create({
      data: { projectId: s.projectId, pipelineId: s.demoPipelineId, number, trigger: "ui", specVersion: 1, resolvedSpec: spec, requestedById: s.admin.id, createdAt: at(60), startedAt: at(59), ...data },
      select: { id: true },
    });

  // Run 1: succeeded, with parameter overrides, tqdm-style logs, a 76 KB eval report and chat-template samples.
  const ok = await run(1, { status: "succeeded", finishedAt: at(40), params: { "training.learningRate": 0.0005, "training.lora.r": 8 } });
  const runDir = path.join(s.dataDir, "runs", ok.id);
  await mkdir(runDir, { recursive: true });
  const logFile = path.join(runDir, "train.log");
  await writeFile(logFile, `loading model\n${Array.from({ length: 20 }, (_, i) => `\r  ${i * 5}%|${"█".repeat(i)}| ${i}/20 [00:0${i % 10}<00:10]`).join("")}\r100%|████| 20/20 [00:10<00:00]\nstep 20 loss 0.42\ntraining done\n`);
  const stageNames = ["prepare", "train", "eval", "gate", "register"] as const;
  for (const [i, stage] of stageNames.entries()) {
    await db.stageRun.create({
      data: { runId: ok.id, stage, status: "succeeded", startedAt: at(59 - i * 4), finishedAt: at(56 - i * 4), logsUri: stage === "train" ? pathToFileURL(logFile).href : null, step: stage === "train" ? 1500 : null, totalSteps: stage === "train" ? 1500 : null },
    });
  }
  const report = { metrics: { rouge_l: 0.61, bleu: 0.33, safety_pass_rate: 1 }, samples: Array.from({ length: 400 }, (_, i) => ({ i, prompt: `prompt ${i} `.repeat(8), prediction: `prediction ${i} `.repeat(8) })) };
  const reportText = JSON.stringify(report, null, 1);
  const reportFile = path.join(runDir, "eval_report.json");
  await writeFile(reportFile, reportText);
  const evalReport = await db.artifact.create({ data: { runId: ok.id, kind: "eval_report", uri: pathToFileURL(reportFile).href, sizeBytes: Buffer.byteLength(reportText) }, select: { id: true } });
  const adapterDir = path.join(runDir, "adapter");
  await mkdir(adapterDir, { recursive: true });
  await writeFile(path.join(adapterDir, "adapter_config.json"), "{}");
  const adapter = await db.artifact.create({ data: { runId: ok.id, kind: "adapter", uri: pathToFileURL(adapterDir).href }, select: { id: true } });
  await db.evalResult.createMany({
    data: [
      { runId: ok.id, metric: "rouge_l", value: 0.61, threshold: 0.45, comparator: ">=", blocking: true, passed: true },
      { runId: ok.id, metric: "safety_pass_rate", value: 1, threshold: 0.99, comparator: ">=", blocking: true, passed: true },
    ],
  });
  await db.evalSample.create({ data: { runId: ok.id, index: 0, prompt: CHAT_PROMPT, reference: "cba", prediction: "cba", scores: { rouge_l: 1 } } });

  // Run 2: cancelled by the admin; run 3: failed with a very long stage error.
  const cancelled = await run(2, { status: "cancelled", finishedAt: at(30), cancelRequestedAt: at(30), error: "cancelled by user" });
  await db.stageRun.create({ data: { runId: cancelled.id, stage: "prepare", status: "succeeded", startedAt: at(35), finishedAt: at(34) } });
  await db.stageRun.create({ data: { runId: cancelled.id, stage: "train", status: "cancelled", startedAt: at(34), finishedAt: at(30), error: "run cancelled" } });
  await db.auditLog.create({ data: { projectId: s.projectId, actorType: "user", actorId: s.admin.id, action: "run.cancel", subjectType: "run", subjectId: cancelled.id, before: { status: "running" }, after: { status: "cancelled" } } });
  const failed = await run(3, { status: "failed", finishedAt: at(20), error: LONG_ERROR, currentStage: "train" });
  await db.stageRun.create({ data: { runId: failed.id, stage: "prepare", status: "succeeded", startedAt: at(25), finishedAt: at(24) } });
  await db.stageRun.create({ data: { runId: failed.id, stage: "train", status: "failed", startedAt: at(24), finishedAt: at(20), error: LONG_ERROR } });

  // Model versions 1 and 2 of the demo model.
  const version = (n: number, runId: string) =>
    db.modelVersion.create({ data: { projectId: s.projectId, modelName: "demo-assistant", version: n, runId, baseModel: "/models/tiny", lineage: {} }, select: { id: true } });
  const v1 = await version(1, ok.id);
  const second = await run(4, { status: "succeeded", finishedAt: at(12) });
  const v2 = await version(2, second.id);
  const policy = { strategy: "canary", canary: { stepsBps: [500, 2500, 5000, 10_000], stepSeconds: 30, minRequests: 20, autoPromote: true }, minRequestsForRollback: 20, automaticRollback: true };
  const variant = (modelVersionId: string, role: "stable" | "canary", weightBps: number, status: "ready" | "retired" | "draining" = "ready") => ({
    modelVersionId,
    role,
    weightBps,
    status,
    upstreamUrl: "http://127.0.0.1:9",
    servedModelName: `demo-assistant-v${modelVersionId === v1.id ? 1 : 2}`,
  });
  // prod: v1 promoted (its canary variant now takes everything).
  await db.deployment.create({
    data: { projectId: s.projectId, environmentId: env("prod"), endpointName: "demo-assistant", strategy: "canary", state: "promoted", policy, currentStep: 3, finishedAt: at(10), createdAt: at(15), variants: { create: [variant(v1.id, "canary", 10_000)] } },
  });
  // staging: v2 canary at step 1 of 4, waiting for its minimum of 20 requests (3 so far).
  const staging = await db.deployment.create({
    data: {
      projectId: s.projectId,
      environmentId: env("staging"),
      endpointName: "demo-assistant",
      strategy: "canary",
      state: "progressing",
      policy,
      currentStep: 0,
      stepStartedAt: at(2),
      createdAt: at(3),
      variants: { create: [variant(v1.id, "stable", 9500), variant(v2.id, "canary", 500)] },
    },
    select: { id: true, variants: { select: { id: true, role: true } } },
  });
  const canaryId = staging.variants.find((v) => v.role === "canary")!.id;
  const stableId = staging.variants.find((v) => v.role === "stable")!.id;
  const buckets = Array.from({ length: HISTOGRAM_SLOTS }, (_, i) => (i === 10 ? 1 : 0));
  for (const [variantId, requests] of [
    [canaryId, 3],
    [stableId, 57],
  ] as const) {
    await db.servingWindow.create({
      data: { deploymentId: staging.id, variantId, gatewayId: "gw-e2e", windowStart: at(1), windowSeconds: 10, requests, errors: 0, latencyHist: buckets, ttftHist: buckets, latencySumMs: requests * 120, outputTokens: requests * 20 },
    });
  }
  // dev: the first version on its endpoint: one canary variant at the first step's weight, alone.
  const dev = await db.deployment.create({
    data: { projectId: s.projectId, environmentId: env("dev"), endpointName: "demo-assistant", strategy: "canary", state: "progressing", policy, currentStep: 1, stepStartedAt: at(1), createdAt: at(5), variants: { create: [variant(v2.id, "canary", 2500)] } },
    select: { id: true },
  });
  await db.rolloutEvent.create({ data: { deploymentId: dev.id, type: "step", step: 1, weights: { canary: 2500 }, reason: "healthy for 30s over 25 requests" } });
  await db.auditLog.create({ data: { projectId: null, actorType: "user", actorId: s.admin.id, action: "user.create", subjectType: "user", subjectId: s.approver.id } });
  return { ok: ok.id, cancelled: cancelled.id, failed: failed.id, evalReport: evalReport.id, reportBytes: Buffer.byteLength(reportText), adapter: adapter.id, v1: v1.id, v2: v2.id, staging: staging.id, dev: dev.id };
}

describe("dashboard screens on seeded data", () => {
  beforeAll(async () => {
    stack = await startStack({ port: PORT, label: "screens", worker: false });
    seed = await seedScreens(stack);
    admin = await stack.browser.newContext({ viewport: { width: 1280, height: 860 } });
    consoleWatch = watchConsole(admin);
    page = await signIn(admin, stack.admin);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  afterEach(async (ctx) => {
    const errors = consoleWatch?.take() ?? [];
    if (ctx.task.result?.state === "fail") {
      await page?.screenshot({ path: path.join(SCREENSHOTS, "screens-failure.png"), fullPage: true }).catch(() => {});
      console.error(stack.logs());
    }
    // Any console error or failed page resource (hydration errors, a missing favicon) fails the test that caused it.
    expect(errors).toEqual([]);
  });

  it("shows every page without a console error", async () => {
    const seen: string[] = [];
    const urls = ["/pipelines", `/pipelines/${stack.demoPipelineId}`, "/pipelines/new", "/runs", `/runs/${seed.ok}`, `/runs/${seed.ok}/report`, `/runs/${seed.cancelled}`, `/runs/${seed.failed}`];
    urls.push("/datasets", "/models", `/models/${seed.v1}`, `/models/compare?a=${seed.v1}&b=${seed.v2}`, "/deployments", `/deployments/${seed.staging}`, `/deployments/${seed.dev}`, "/approvals", "/audit", "/settings");
    for (const url of urls) {
      await page.goto(`${stack.baseUrl}${url}`);
      // Hydrated and the first client fetches answered (some pages poll, so "network idle" may take long).
      await page.locator("main#content, main").first().waitFor();
      await page.waitForFunction(() => !document.querySelector('[role="status"][aria-label="Loading"]'), undefined, { timeout: 15_000 }).catch(() => {});
      const errors = consoleWatch.take();
      if (errors.length) seen.push(...errors);
    }
    expect(seen).toEqual([]);
  });

  it("shows per environment and endpoint what serves now and at what share", async () => {
    await page.goto(`${stack.baseUrl}/deployments`);
    const prod = page.getByRole("region", { name: "Environment prod" });
    await prod.getByText("demo-assistant-v1").waitFor();
    expect(await prod.locator("tr[data-endpoint]").innerText()).toMatch(/demo-assistant-v1\s+live\s+100%/);
    const staging = page.getByRole("region", { name: "Environment staging" });
    expect(await staging.locator("tr[data-endpoint]").innerText()).toMatch(/demo-assistant-v1\s+stable\s+95%[\s\S]*demo-assistant-v2\s+canary\s+5%/);
    expect(await staging.locator("tr[data-endpoint]").innerText()).toContain("step 1 of 4 (5%)");
    // The first version alone at its 25% step takes every request.
    const dev = page.getByRole("region", { name: "Environment dev" });
    expect(await dev.locator("tr[data-endpoint]").innerText()).toMatch(/demo-assistant-v2\s+canary\s+100%/);
    await shot(page, "deployments-overview");
  });

  it("numbers steps like the rollback reasons, waits for traffic visibly and keeps the error axis sane", async () => {
    await page.goto(`${stack.baseUrl}/deployments/${seed.staging}`);
    await page.getByTestId("waiting-for-traffic").getByText("waiting for traffic: 3 / 20 requests").waitFor();
    expect(await page.locator(".page-head .sub").innerText()).toContain("step 1 of 4 (5%)");
    await shot(page, "deployment-waiting-for-traffic");
    const figure = page.locator('figure[aria-label="Error rate"]');
    const errorAxis = figure.locator(".recharts-yAxis-tick-labels .recharts-cartesian-axis-tick-value");
    await errorAxis
      .first()
      .waitFor({ timeout: 15_000 })
      .catch(async (error) => {
        throw new Error(`${(error as Error).message}\n${await figure.innerHTML().catch(() => "no figure")}`);
      });
    const ticks = (await errorAxis.allTextContents()).map((t) => Number.parseFloat(t));
    // A 0% series: the axis tops out at 1%, not 400%.
    expect(Math.max(...ticks)).toBeLessThanOrEqual(1);

    await page.goto(`${stack.baseUrl}/deployments/${seed.dev}`);
    await page.getByText("This is the first version on demo-assistant").waitFor();
    const row = page.locator("table tbody tr").first();
    expect(await row.innerText()).toMatch(/canary[\s\S]*100%/);
    const variantsCard = page.locator(".card", { has: page.getByRole("heading", { name: "Variants" }) });
    expect(await variantsCard.getByRole("img").getAttribute("aria-label")).toBe("canary 100%");
    // Rollout events count steps from 1, like "SLO breach at step 2/4".
    expect(await page.getByLabel("Rollout timeline").innerText()).toContain("step 2");
    await shot(page, "deployment-first-version");
  });

  it("shows a run's parameters, clean logs, the conversation of a sample, and downloads the eval report whole", async () => {
    await page.goto(`${stack.baseUrl}/runs/${seed.ok}`);
    const params = page.getByTestId("run-params");
    await params.waitFor();
    expect(await params.innerText()).toMatch(/training\.learningRate\s+0\.0005/);
    expect(await page.getByRole("region", { name: "Parameters" }).or(page.locator('[aria-label="Parameters"]')).first().innerText()).toContain("1,500 steps");
    const logs = page.getByLabel("Log output");
    await logs.getByText("training done").waitFor();
    const logText = await logs.innerText();
    expect(logText).toContain("100%|████| 20/20");
    expect(logText).not.toMatch(/ 5%\|/);
    await shot(page, "run-overview");

    await page.getByRole("tab", { name: "Evaluation" }).click();
    const prompt = page.getByTestId("chat-prompt").first();
    await prompt.waitFor();
    expect(await prompt.innerText()).toContain("Reverse the string: abc");
    expect(await page.locator("table").first().innerText()).not.toContain("<|im_start|>");
    await shot(page, "run-samples");

    await page.getByRole("tab", { name: "Artifacts" }).click();
    const reportRow = page.locator("tr", { hasText: "eval_report" });
    const [download] = await Promise.all([page.waitForEvent("download"), reportRow.getByRole("link", { name: "Download" }).click()]);
    const saved = await download.path();
    const { stat } = await import("node:fs/promises");
    expect((await stat(saved!)).size).toBe(seed.reportBytes);
    // A folder downloads as a .tar.gz (it used to save a JSON 409 as download.json) whose manifest lists its files.
    const adapterRow = page.locator("tr", { hasText: "adapter" });
    const [archive] = await Promise.all([page.waitForEvent("download"), adapterRow.getByRole("link", { name: "Download .tar.gz" }).click()]);
    expect(archive.suggestedFilename()).toBe("adapter.tar.gz");
    const { execFileSync } = await import("node:child_process");
    const { createHash } = await import("node:crypto");
    const sums = execFileSync("tar", ["-xzOf", (await archive.path())!, "MANIFEST.sha256"], { encoding: "utf8" });
    expect(sums).toBe(`${createHash("sha256").update("{}").digest("hex")}  adapter_config.json\n`);
    // Through the real server a Range request is a 206 with Content-Range.
    const ranged = await page.request.get(`${stack.baseUrl}/api/v1/artifacts/${seed.evalReport}/download`, { headers: { range: "bytes=0-9" } });
    expect(ranged.status()).toBe(206);
    expect(ranged.headers()["content-range"]).toBe(`bytes 0-9/${seed.reportBytes}`);
    expect((await ranged.body()).length).toBe(10);
    await shot(page, "run-artifacts", false);

    await page.goto(`${stack.baseUrl}/runs/${seed.ok}/report`);
    await page.getByText("Metrics against thresholds").waitFor();
    expect(await page.locator(".kv").innerText()).toContain("1,500 steps");

    // The model version registered from this run offers its adapter folder as a download.
    await stack.db.modelVersion.update({ where: { id: seed.v1 }, data: { adapterArtifactId: seed.adapter } });
    await page.goto(`${stack.baseUrl}/models/${seed.v1}`);
    const adapterLink = page.getByRole("link", { name: "Download adapter .tar.gz" });
    await adapterLink.waitFor();
    expect(await adapterLink.getAttribute("href")).toBe(`/api/v1/artifacts/${seed.adapter}/download`);
  });

  it("says neutrally who cancelled a run and keeps long stage errors from stretching the timeline", async () => {
    await page.goto(`${stack.baseUrl}/runs/${seed.cancelled}`);
    const note = page.getByTestId("run-cancelled");
    await note.getByText(/Cancelled by you/).waitFor();
    expect(await page.locator(".alert.red").count()).toBe(0);
    await shot(page, "run-cancelled", false);

    await page.goto(`${stack.baseUrl}/runs/${seed.failed}`);
    const train = page.locator('[data-stage="train"]');
    await train.locator(".stage-error").waitFor();
    const heights = await Promise.all(["prepare", "train", "eval"].map(async (stage) => (await page.locator(`[data-stage="${stage}"]`).boundingBox())!.height));
    // The grid row is as tall as its tallest card: a clamped error adds at most two lines.
    expect(heights[1]!).toBeLessThan(130);
    await page.getByRole("button", { name: "Show all" }).waitFor();
    await shot(page, "run-failed-long-error");
  });

  it("filters the audit log by actor type, including user and token changes outside projects", async () => {
    await page.goto(`${stack.baseUrl}/audit`);
    await page.locator("td.mono").first().waitFor();
    await page.getByLabel("Actor").selectOption("type:user");
    await page.locator("td.mono", { hasText: /^run\.cancel$/ }).first().waitFor();
    await page.getByLabel("Subject type").selectOption("user");
    await page.locator("td.mono", { hasText: /^user\.create$/ }).first().waitFor();
    await expect.poll(() => page.locator("td.mono", { hasText: /^(?!user\.)/ }).count(), { timeout: 10_000 }).toBe(0);
    await shot(page, "audit-actor-user");
  });

  it("keeps the spec as written, shows the diff between versions and refuses to save an invalid spec", async () => {
    const text = (lr: string) =>
      `apiVersion: loraplane/v1\nname: spec-as-written\n# comments survive\nmodel:\n  name: spec-model\n  baseModel: /models/tiny\ndataset:\n  name: demo-instructions\n  version: v1\ntraining:\n  learningRate: ${lr}\n  maxSteps: 10\neval:\n  thresholds:\n    - value: 0.4\n      metric: rouge_l\n      comparator: ">="\n`;
    await page.goto(`${stack.baseUrl}/pipelines/new`);
    const editor = page.getByLabel("Edit the spec directly; the form follows.");
    await editor.fill(text("0.001"));
    await page.getByText("The spec is valid.").waitFor({ timeout: 15_000 });
    await page.getByRole("button", { name: "Create pipeline" }).click();
    await page.waitForURL(/\/pipelines\/(?!new)[^/]+$/);
    await page.getByRole("tab", { name: "Edit" }).click();
    const edit = page.getByLabel("Edit the spec directly; the form follows.");
    expect(await edit.inputValue()).toBe(text("0.001"));
    const lr = page.getByLabel("Learning rate");
    await lr.fill("5");
    await page.getByText("must be <= 1").first().waitFor();
    expect(await page.getByRole("button", { name: "Save changes" }).isDisabled()).toBe(true);
    await shot(page, "pipeline-save-disabled", false);
    await lr.fill("0.002");
    await page.getByText("The spec is valid.").waitFor({ timeout: 15_000 });
    // The form edited the one value in place: order and comments stay.
    expect(await edit.inputValue()).toBe(text("0.002"));
    await page.getByRole("button", { name: "Save changes" }).click();
    await page.getByText("Spec v2").or(page.getByText(/Spec v2\b/)).first().waitFor({ timeout: 15_000 });
    await page.getByRole("tab", { name: "Spec" }).click();
    expect((await page.getByTestId("spec-text").innerText()).trimEnd()).toBe(text("0.002").trimEnd());
    const diff = page.getByLabel("Differences between v1 and v2");
    await diff.waitFor();
    expect(await diff.locator(".diff-removed").allInnerTexts()).toEqual(["-   learningRate: 0.001"]);
    expect(await diff.locator(".diff-added").allInnerTexts()).toEqual(["+   learningRate: 0.002"]);
    await shot(page, "pipeline-spec-diff");
  });

  it("invites a new approver to the project in one step; they land in it", async () => {
    await page.goto(`${stack.baseUrl}/settings`);
    await page.getByRole("tab", { name: "Members" }).click();
    await page.locator("table").first().waitFor();
    await page.getByLabel("User email").fill("new.approver@e2e.test");
    await page.getByLabel("Name", { exact: true }).fill("Nia New");
    await page.getByLabel("Role", { exact: true }).selectOption("approver");
    await page.getByRole("button", { name: "Invite" }).click();
    const secret = (await page.getByTestId("one-time-secret").innerText()).trim();
    await page.getByRole("cell", { name: /Nia New/ }).waitFor();
    await shot(page, "members-invited", false);
    const member = await stack.db.projectMember.findFirst({ where: { projectId: stack.projectId, user: { email: "new.approver@e2e.test" } }, select: { role: true } });
    expect(member?.role).toBe("approver");

    const context = await stack.browser.newContext({ viewport: { width: 1280, height: 860 } });
    const watch = watchConsole(context);
    const newcomer = await signIn(context, { email: "new.approver@e2e.test", password: secret });
    await expect.poll(() => newcomer.getByLabel("Project").locator("option:checked").innerText()).toBe("Demo");
    await newcomer.getByRole("link", { name: "demo-lora" }).waitFor();
    await shot(newcomer, "newcomer-pipelines", false);
    await context.close();
    expect(watch.take()).toEqual([]);
  });

  it("walks a release: promote dev → staging → prod, approve as a second user, roll back prod", async () => {
    const { db } = stack;
    // No worker here: the test does what the rollout controller would (backend ready, traffic, analysis) and runs the
    // release controller's pass; every person's action goes through the release view.
    const deps = { db, queue: { nudgeRun: async () => "none" } };
    const ENDPOINT = "rel-assistant";
    const resolved = resolveSpec({
      name: "rel",
      model: { name: "rel-model", baseModel: "/models/tiny" },
      dataset: { name: "demo-instructions", version: "v1" },
      eval: { metrics: ["rouge_l"], thresholds: [{ metric: "rouge_l", value: 0.1 }] },
      deploy: {
        endpointName: ENDPOINT,
        environments: ["dev", "staging", "prod"],
        canary: { steps: [10_000], analysisWindowSeconds: 1, minRequests: 5 },
        slo: { p99LatencyMs: 500, ttftP95Ms: 400, maxErrorRate: 0.05 },
        stages: { staging: { start: "manual", soakSeconds: 0 }, prod: { start: "manual" } },
      },
    });
    if (!resolved.ok) throw new Error(JSON.stringify(resolved.issues));
    const envs = await db.environment.findMany({ where: { projectId: stack.projectId }, select: { id: true, name: true, tier: true, requiresApproval: true } });
    const envId = (name: string) => envs.find((e) => e.name === name)!.id;
    const mkVersion = async (n: number) => {
      const run = await db.pipelineRun.create({
        data: { projectId: stack.projectId, pipelineId: stack.demoPipelineId, number: 100 + n, trigger: "ui", specVersion: 1, resolvedSpec: {}, status: "succeeded", requestedById: stack.admin.id },
        select: { id: true, projectId: true, requestedById: true },
      });
      await db.evalResult.create({ data: { runId: run.id, metric: "rouge_l", value: 0.62, threshold: 0.1, comparator: ">=", blocking: true, passed: true } });
      const v = await db.modelVersion.create({ data: { projectId: stack.projectId, modelName: "rel-model", version: n, runId: run.id, baseModel: "/models/tiny", lineage: {} }, select: { id: true } });
      return { run, modelVersionId: v.id };
    };
    // v1 already serves prod (the last known good a rollback returns to).
    const v1 = await mkVersion(1);
    await db.deployment.create({
      data: {
        projectId: stack.projectId,
        environmentId: envId("prod"),
        endpointName: ENDPOINT,
        strategy: "canary",
        state: "promoted",
        policy: {},
        finishedAt: new Date(),
        variants: { create: [{ modelVersionId: v1.modelVersionId, role: "canary", weightBps: 10_000, status: "ready", upstreamUrl: "http://127.0.0.1:9", servedModelName: "rel-model-v1" }] },
      },
    });
    const traffic = async (deploymentId: string) => {
      const d = (await findDeploymentById(db, deploymentId))!;
      const v = d.variants.find((x) => x.role === "canary")!;
      const latencyHist = emptyHistogram();
      const ttftHist = emptyHistogram();
      for (let i = 0; i < 30; i++) {
        recordValue(latencyHist, 40);
        recordValue(ttftHist, 10);
      }
      await upsertServingWindows(db, [
        { deploymentId, variantId: v.id, gatewayId: "gw-e2e", windowStart: new Date(Math.floor(Date.now() / 1000) * 1000), windowSeconds: 1, requests: 30, errors: 0, errors4xx: 0, errors5xx: 0, timeouts: 0, latencyHist, ttftHist, latencySumMs: 1200, outputTokens: 30, feedbackUp: 0, feedbackDown: 0 },
      ]);
    };
    const drive = async (deploymentId: string) => {
      await markNewVariantReady(deps, { deploymentId, upstreamUrl: "http://127.0.0.1:9", detail: "e2e" });
      await traffic(deploymentId);
      const d = (await findDeploymentById(db, deploymentId))!;
      expect((await analyseDeployment(deps, d, { now: new Date(Date.now() + 1_500) })).decision.action).toBe("promote");
    };
    const stageRow = async (releaseId: string, env: string) => db.releaseStage.findFirstOrThrow({ where: { releaseId, environment: { name: env } }, select: { state: true, deploymentId: true } });

    const v2 = await mkVersion(2);
    const first = await startDeployment(deps, { runId: v2.run.id, modelVersionId: v2.modelVersionId, environmentId: envId("dev"), endpointName: ENDPOINT, strategy: "canary", policy: { canary: { stepsBps: [10_000], stepSeconds: 1, minRequests: 5 } } });
    const release = await createReleaseForRun(deps, { run: v2.run, modelVersionId: v2.modelVersionId, spec: resolved.spec, firstDeploymentId: first.deploymentId, environments: envs });
    await drive(first.deploymentId);
    await advanceRelease(deps, release.id);
    expect((await stageRow(release.id, "dev")).state).toBe("promoted");

    // dev → staging, by the button.
    await page.goto(`${stack.baseUrl}/releases`);
    const row = page.locator(`tr[data-release="${release.id}"]`);
    await row.locator('[data-stage-env="dev"][data-stage-state="promoted"]').waitFor();
    expect(await row.locator('[data-stage-env="prod"]').getByRole("button").count()).toBe(0);
    await shot(page, "release-dev-promoted");
    await row.getByRole("button", { name: "Promote to staging" }).click();
    await page.getByRole("dialog").getByLabel("Reason (recorded in the audit log)").fill("dev looks healthy");
    await page.getByRole("dialog").getByRole("button", { name: "Promote" }).click();
    await row.locator('[data-stage-env="staging"][data-stage-state="rolling_out"]').waitFor();
    await drive((await stageRow(release.id, "staging")).deploymentId!);
    await advanceRelease(deps, release.id);
    expect((await stageRow(release.id, "staging")).state).toBe("promoted");

    // staging → prod: prod then waits for an approval the requester (this admin) may not give.
    await row.getByRole("button", { name: "Promote to prod" }).click();
    await page.getByRole("dialog").getByLabel("Reason (recorded in the audit log)").fill("staging held its SLOs");
    await page.getByRole("dialog").getByRole("button", { name: "Promote" }).click();
    const prodCell = row.locator('[data-stage-env="prod"][data-stage-state="awaiting_approval"]');
    await prodCell.waitFor();
    expect(await prodCell.innerText()).toContain("may approve: Grace Approver");
    expect(await prodCell.getByRole("button", { name: "Approve" }).count()).toBe(0);
    await shot(page, "release-awaiting-approval");

    // A second user approves from the inbox, with the gate result and staging's live SLO figures beside the button.
    const approverContext = await stack.browser.newContext({ viewport: { width: 1280, height: 860 } });
    const approverWatch = watchConsole(approverContext);
    const approver = await signIn(approverContext, stack.approver);
    await approver.goto(`${stack.baseUrl}/approvals`);
    const card = approver.locator('[data-release-approval="prod"]');
    await card.getByTestId("release-gate").getByText("Gate passed").waitFor();
    await card.getByTestId("previous-slo").getByText("p99 latency").waitFor();
    await shot(approver, "approvals-release");
    await card.getByRole("button", { name: "Approve" }).click();
    await approver.getByRole("dialog").getByLabel("Comment (optional)").fill("gate and staging SLOs fine");
    await approver.getByRole("dialog").getByRole("button", { name: "Approve release" }).click();
    await card.waitFor({ state: "detached" });
    await approverContext.close();
    expect(approverWatch.take()).toEqual([]);
    expect((await stageRow(release.id, "prod")).state).toBe("rolling_out");
    await drive((await stageRow(release.id, "prod")).deploymentId!);
    await advanceRelease(deps, release.id);
    expect((await stageRow(release.id, "prod")).state).toBe("promoted");

    // Roll back prod only.
    await page.reload();
    await row.locator('[data-stage-env="prod"][data-stage-state="promoted"]').waitFor();
    await row.getByRole("button", { name: "Roll back prod" }).click();
    const dialog = page.getByRole("dialog");
    expect(await dialog.getByRole("button", { name: "Roll back" }).isDisabled()).toBe(true);
    await dialog.getByLabel("Reason (recorded in the audit log)").fill("p99 regression reported by users");
    await dialog.getByRole("button", { name: "Roll back" }).click();
    await row.locator('[data-stage-env="prod"][data-stage-state="rolled_back"]').waitFor();
    expect((await stageRow(release.id, "staging")).state).toBe("promoted");
    await shot(page, "release-prod-rolled-back");
    const audit = await db.auditLog.findMany({ where: { subjectId: release.id }, select: { action: true, actorId: true } });
    expect(audit).toContainEqual({ action: "release.approve", actorId: stack.approver.id });
    expect(audit.map((a) => a.action)).toEqual(expect.arrayContaining(["release.promote", "release.rollback"]));
  });

  it("creates a dataset with its first version from the dashboard, then shows its splits, token histogram, paged rows and lineage", async () => {
    const words = ["alpha", "beta", "gamma", "delta", "epsilon"];
    const row = (i: number) => JSON.stringify({ instruction: `Reverse the words: ${words.slice(0, 1 + (i % 5)).join(" ")} ${"x".repeat(i * 7)}`, input: i % 3 ? "" : `context ${i}`, output: `${i} done` });
    const train = Array.from({ length: 60 }, (_, i) => row(i)).join("\n") + "\n";
    const validation = Array.from({ length: 12 }, (_, i) => row(100 + i)).join("\n") + "\n";
    await page.goto(`${stack.baseUrl}/datasets`);
    await page.getByRole("button", { name: "New dataset" }).click();
    const form = page.getByRole("region", { name: "New dataset" });
    await form.getByLabel("Name").fill("support-instructions");
    await form.getByLabel("Description (optional)").fill("Instruction pairs collected from support tickets");
    await form.getByLabel("Split files").setInputFiles([
      { name: "train.jsonl", mimeType: "application/jsonl", buffer: Buffer.from(train) },
      { name: "validation.jsonl", mimeType: "application/jsonl", buffer: Buffer.from(validation) },
    ]);
    await form.getByRole("button", { name: "Create and upload v1" }).click();
    await page.waitForURL(/\/datasets\/[^/]+$/, { timeout: 30_000 });
    const splits = page.getByRole("region", { name: "Splits" });
    await splits.getByText("validation").waitFor();
    expect(await splits.innerText()).toMatch(/train\s+60/);
    expect(await page.getByRole("region", { name: "Version v1" }).innerText()).toContain("Alpaca (instruction / input / output)");
    await page.getByRole("figure", { name: /train: approx\. tokens/ }).waitFor();
    const range = page.getByTestId("preview-range");
    await range.getByText("Rows 1–10 of 60").waitFor();
    await page.getByRole("region", { name: "Rows" }).getByRole("button", { name: "Next" }).click();
    await range.getByText("Rows 11–20 of 60").waitFor();
    expect(await page.getByRole("region", { name: "Rows" }).locator("tbody tr").first().innerText()).toMatch(/^11\s/);

    // Lineage: the seeded succeeded run trained on this version and registered demo-assistant v1.
    const version = await stack.db.datasetVersion.findFirstOrThrow({ where: { dataset: { name: "support-instructions" } }, select: { id: true } });
    await stack.db.pipelineRun.update({ where: { id: seed.ok }, data: { datasetVersionId: version.id } });
    await stack.db.modelVersion.update({ where: { id: seed.v1 }, data: { datasetVersionId: version.id } });
    await page.reload();
    const usedBy = page.getByRole("region", { name: "Used by" });
    await usedBy.getByRole("link", { name: "demo-assistant v1" }).waitFor();
    expect(await usedBy.innerText()).toMatch(/#1/);
    await page.getByRole("figure", { name: /train: approx\. tokens/ }).waitFor();
    await shot(page, "dataset");

    // A malformed line is refused with its file and line; nothing new is listed.
    await page.getByRole("button", { name: "Upload new version" }).click();
    const upload = page.getByRole("region", { name: "Upload" });
    await upload.getByLabel("Split files").setInputFiles([{ name: "train.jsonl", mimeType: "application/jsonl", buffer: Buffer.from(`${row(1)}\n${row(2)}\n{"instruction": "cut off"\n`) }]);
    await upload.getByRole("button", { name: "Upload new version" }).click();
    await upload.getByRole("alert").getByText(/train\.jsonl line 3: malformed JSON/).waitFor();
    // The browser logs the refused upload's 400 as a failed resource: that one, and nothing else, is expected.
    expect(consoleWatch.take()).toEqual([expect.stringMatching(/status of 400 .*\/versions\/upload/)]);
    await shot(page, "dataset-upload-refused", false);
    expect(await stack.db.datasetVersion.count({ where: { dataset: { name: "support-instructions" } } })).toBe(1);

    await page.goto(`${stack.baseUrl}/datasets`);
    await page.getByRole("link", { name: "support-instructions" }).waitFor();
    await shot(page, "datasets");
  });
});
