// The whole browser flow on the built app: sign in, create a pipeline with the form and the spec editor, trigger it,
// watch the stage timeline advance while it trains and evaluates, review a sample, approve the production release as
// a second user, promote, change the A/B split and roll back — each confirmed in a dialog and checked in Postgres.
import path from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { stringify } from "yaml";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { watchConsole, type TConsoleWatch } from "./console";
import { SCREENSHOTS, startStack, type TStack } from "./stack";

const PORT = 3210;
let stack: TStack;
let admin: BrowserContext;
let page: Page;
// Console errors and page exceptions of every browser context; any of them fails the step that caused it.
const watches: TConsoleWatch[] = [];

async function newContext(options: Parameters<TStack["browser"]["newContext"]>[0] = {}): Promise<BrowserContext> {
  const context = await stack.browser.newContext(options);
  watches.push(watchConsole(context));
  return context;
}

async function shot(p: Page, name: string): Promise<void> {
  await p.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/**
 * Signs in. `viaRedirect`: start from a dashboard page signed out, as a bookmark would, and be sent to the login page
 * and back; its 401s are provoked on purpose, so only the test that checks them uses it. Otherwise start at /login.
 */
async function signIn(context: BrowserContext, who: { email: string; password: string }, viaRedirect = false): Promise<Page> {
  const p = await context.newPage();
  if (viaRedirect) {
    await p.goto(`${stack.baseUrl}/pipelines`);
    await p.waitForURL(/\/login\?callbackUrl=/, { timeout: 30_000 });
  } else {
    await p.goto(`${stack.baseUrl}/login`);
  }
  await p.getByLabel("Email").fill(who.email);
  await p.getByLabel("Password").fill(who.password);
  await p.getByRole("button", { name: "Sign in" }).click();
  await p.waitForURL(/\/pipelines$/, { timeout: 30_000 });
  return p;
}

/** Polls Postgres, the source of truth, until `check` returns a value. */
async function until<T>(what: string, check: () => Promise<T | null | undefined | false>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${stack.logs()}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

const runState = (runId: string) =>
  stack.db.pipelineRun.findUnique({ where: { id: runId }, select: { status: true, error: true, currentStage: true, stages: { select: { stage: true, status: true, error: true } } } });

/** Waits until a stage of the run reaches one of `statuses`; a run that fails or is blocked first fails the test at once. */
async function stageReaches(runId: string, stage: string, statuses: string[], timeoutMs: number): Promise<void> {
  await until(
    `${stage} ${statuses.join("|")}`,
    async () => {
      const run = await runState(runId);
      if (run?.stages.some((s) => s.stage === stage && statuses.includes(s.status))) return true;
      if (run && ["failed", "blocked", "cancelled"].includes(run.status)) {
        throw new Error(`run ${runId} ${run.status} at ${run.currentStage}: ${run.error ?? run.stages.map((s) => s.error).filter(Boolean).join("; ")}\n${stack.logs()}`);
      }
      return false;
    },
    timeoutMs,
  );
}

describe("dashboard", () => {
  beforeAll(async () => {
    stack = await startStack({ port: PORT, label: "dash" });
    admin = await newContext({ viewport: { width: 1280, height: 860 } });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  // Each step builds on the one before; after a failure the rest would only wait out their timeouts.
  let failed = false;
  afterEach(async (ctx) => {
    const errors = watches.flatMap((w) => w.take());
    if (errors.length && ctx.task.result?.state !== "fail") {
      failed = true;
      throw new Error(`console errors in the browser:\n${errors.join("\n")}`);
    }
    if (ctx.task.result?.state !== "fail") return;
    failed = true;
    // What the user saw at the moment of failure, and what the servers said.
    await page?.screenshot({ path: path.join(SCREENSHOTS, "failure.png"), fullPage: true }).catch(() => {});
    console.error(stack.logs());
  });
  beforeEach((ctx) => {
    if (failed) ctx.skip();
  });

  let pipelineId = "";
  const runIds: string[] = [];

  it("refuses a wrong password and signs in with the right one", async () => {
    const p = await admin.newPage();
    await p.goto(`${stack.baseUrl}/login`);
    await p.getByLabel("Email").fill(stack.admin.email);
    await p.getByLabel("Password").fill("not-the-password");
    await p.getByRole("button", { name: "Sign in" }).click();
    await p.getByText("Wrong email or password.").waitFor();
    await shot(p, "login-error");
    await p.close();

    page = await signIn(admin, stack.admin, true);
    // Provoked on purpose: the wrong password's 401 and the signed-out visit that sends the browser to the login page.
    for (const w of watches) w.expectSeen(/status of 401 \(Unauthorized\) \(http:\/\/127\.0\.0\.1:\d+\/api\/(auth\/callback\/credentials|v1\/me|v1\/projects)/);
    await page.getByRole("link", { name: "demo-lora" }).waitFor();
    await page.getByText("never run").first().waitFor();
    await shot(page, "pipelines");
  });

  it("creates a pipeline from the spec editor and the form, validating as the user types", async () => {
    const demo = await (await page.request.get(`${stack.baseUrl}/api/v1/pipelines/${stack.demoPipelineId}`)).json();
    const spec = structuredClone(demo.spec);
    spec.name = "e2e-lora";
    spec.model.name = "e2e-assistant";
    // Short enough for a shared 2-core CI machine; this test is about the dashboard, so the blocking threshold is
    // one a barely trained model meets, and the quality bar (rouge_l) is advisory here.
    spec.training.maxSteps = 30;
    spec.training.batchSize = 8;
    spec.training.checkpointEverySteps = 15;
    spec.training.logEverySteps = 3;
    spec.eval.maxSamples = 20;
    spec.eval.maxNewTokens = 16;
    spec.eval.thresholds = [
      { metric: "safety_pass_rate", comparator: ">=", value: 0.5, blocking: true },
      { metric: "rouge_l", comparator: ">=", value: 0.45, blocking: false },
    ];
    spec.deploy = { ...spec.deploy, endpointName: "e2e-assistant", environments: ["prod"] };
    // The demo's per-environment release stages name dev and staging, which this one-environment pipeline leaves out.
    delete spec.deploy.stages;

    await page.getByRole("link", { name: "New pipeline" }).click();
    await page.waitForURL(/\/pipelines\/new$/);
    const editor = page.getByLabel("Edit the spec directly; the form follows.");
    await editor.fill(stringify(spec));
    // The form follows the YAML.
    await expect.poll(() => page.getByLabel("Name", { exact: true }).inputValue()).toBe("e2e-lora");

    // A syntax error is reported with its line, without a round trip.
    await editor.fill("name: e2e-lora\ntraining: [1, 2\n");
    await page.getByText(/YAML line \d+/).waitFor();
    await editor.fill(stringify(spec));

    // A bad value typed in the form is named by the server's validator next to the field.
    const lr = page.getByLabel("Learning rate");
    await lr.fill("5");
    await page.getByText("must be <= 1").first().waitFor();
    await page.locator('[data-testid="spec-issues"]').getByText("training.learningRate").waitFor();
    await shot(page, "pipeline-editor-invalid");
    await lr.fill("0.001");
    await page.getByText("The spec is valid.").waitFor({ timeout: 15_000 });
    await shot(page, "pipeline-editor");

    await page.getByRole("button", { name: "Create pipeline" }).click();
    await page.waitForURL(/\/pipelines\/(?!new)[^/]+$/);
    pipelineId = page.url().split("/").pop()!;
    const row = await stack.db.pipeline.findUnique({ where: { id: pipelineId }, select: { name: true, spec: true } });
    expect(row?.name).toBe("e2e-lora");
    expect((row?.spec as { training: { learningRate: number } }).training.learningRate).toBe(0.001);
  });

  it("triggers two runs and shows the timeline advance while the first one trains", async () => {
    for (let i = 0; i < 2; i++) {
      await page.goto(`${stack.baseUrl}/pipelines/${pipelineId}`);
      await page.getByRole("button", { name: "Trigger run" }).click();
      await page.waitForURL(/\/runs\/[^/]+$/);
      runIds.push(page.url().split("/").pop()!);
    }
    expect(new Set(runIds).size).toBe(2);
    await page.goto(`${stack.baseUrl}/runs/${runIds[0]}`);

    const train = page.locator('[data-stage="train"]');
    await stageReaches(runIds[0]!, "train", ["running", "succeeded"], 180_000);
    await train.and(page.locator('[data-status="running"]')).waitFor({ timeout: 30_000 });
    await page.getByRole("progressbar", { name: "Training progress" }).waitFor({ timeout: 120_000 });
    // Charts fill in from ingested metrics while the stage runs.
    await page.getByText(/\b([2-9]|\d{2,}) points\b/).first().waitFor({ timeout: 300_000 });
    await shot(page, "run-training");
    await page.setViewportSize({ width: 390, height: 844 });
    // Let the drawer's slide-out transition and the charts' resize settle.
    await page.waitForTimeout(800);
    await shot(page, "run-training-phone");
    await page.setViewportSize({ width: 1280, height: 860 });

    // The same page, without a reload, shows train finishing and evaluation starting.
    await stageReaches(runIds[0]!, "train", ["succeeded"], 600_000);
    await train.and(page.locator('[data-status="succeeded"]')).waitFor({ timeout: 30_000 });
    await page.locator('[data-stage="eval"]').waitFor();
    const state = await runState(runIds[0]!);
    expect(state?.stages.find((s) => s.stage === "train")?.status).toBe("succeeded");
  });

  it("shows the gate decision and records a sample review", async () => {
    const runId = runIds[0]!;
    await stageReaches(runId, "gate", ["succeeded"], 600_000);
    await page.locator('[data-stage="gate"]').and(page.locator('[data-status="succeeded"]')).waitFor({ timeout: 30_000 });
    await page.getByRole("tab", { name: "Evaluation" }).click();
    const decision = page.getByTestId("gate-decision");
    await decision.waitFor();
    expect(await decision.innerText()).toMatch(/Gate passed/);
    await page.getByRole("group", { name: "Review sample 0" }).getByRole("button", { name: "Good" }).click();
    await until("the review in Postgres", async () => (await stack.db.evalSample.findUnique({ where: { runId_index: { runId, index: 0 } }, select: { review: true } }))?.review === "good", 10_000);
    await shot(page, "run-eval");
    await page.goto(`${stack.baseUrl}/runs/${runId}/report`);
    await page.getByText("Metrics against thresholds").waitFor();
    await shot(page, "eval-report");
  });

  it("waits for approval; the requester cannot approve, an approver can", async () => {
    await until("both runs waiting for approval", async () => (await Promise.all(runIds.map(runState))).every((r) => r?.status === "waiting_approval"), 600_000);
    await page.goto(`${stack.baseUrl}/approvals`);
    await page.getByText("You requested this release").first().waitFor();

    const approverContext = await newContext({ viewport: { width: 1280, height: 860 } });
    const approver = await signIn(approverContext, stack.approver);
    await approver.goto(`${stack.baseUrl}/approvals`);
    const card = approver.locator("article", { hasText: "(run #1)" });
    await card.waitFor();
    await shot(approver, "approvals");
    await card.getByRole("button", { name: "Approve" }).click();
    await approver.getByLabel("Comment (optional)").fill("eval looks good");
    await approver.getByRole("button", { name: "Approve release" }).click();
    await card.waitFor({ state: "detached" });
    const approval = await stack.db.approvalRequest.findFirst({ where: { subjectId: runIds[0] }, select: { status: true, decidedById: true, comment: true } });
    expect(approval).toMatchObject({ status: "approved", decidedById: stack.approver.id, comment: "eval looks good" });
    await approverContext.close();
  });

  it("promotes the first release, then splits and rolls back the second", async () => {
    const first = await until(
      "the first deployment",
      () => stack.db.deployment.findFirst({ where: { runId: runIds[0] }, select: { id: true, variants: { select: { status: true } } } }),
      300_000,
    );
    await page.goto(`${stack.baseUrl}/deployments`);
    await page.getByRole("link", { name: "e2e-assistant" }).first().waitFor();
    await shot(page, "deployments");
    await page.goto(`${stack.baseUrl}/deployments/${first.id}`);
    await until("the canary backend to be ready", async () => (await stack.db.deploymentVariant.findFirst({ where: { deploymentId: first.id }, select: { status: true } }))?.status === "ready", 300_000);
    await page.getByRole("button", { name: "Promote" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Promote" }).click();
    await until("promoted", async () => (await stack.db.deployment.findUnique({ where: { id: first.id }, select: { state: true } }))?.state === "promoted", 30_000);

    // Second release: approved through the API as the approver would, then operated from the deployment page.
    const approverContext = await newContext();
    const approver = await signIn(approverContext, stack.approver);
    const pending = await stack.db.approvalRequest.findFirst({ where: { subjectId: runIds[1], status: "pending" }, select: { id: true } });
    expect(pending).not.toBeNull();
    const approved = await approver.request.post(`${stack.baseUrl}/api/v1/approvals/${pending!.id}/approve`, { data: { comment: "second" }, headers: { origin: stack.baseUrl } });
    expect(approved.status()).toBe(200);
    await approverContext.close();

    const second = await until(
      "the second deployment with a ready canary",
      async () => {
        const d = await stack.db.deployment.findFirst({ where: { runId: runIds[1] }, select: { id: true, state: true, variants: { select: { role: true, status: true } } } });
        return d && d.variants.length === 2 && d.variants.every((v) => v.status === "ready") && ["progressing", "paused"].includes(d.state) ? d : null;
      },
      300_000,
    );
    await page.goto(`${stack.baseUrl}/deployments/${second.id}`);
    const slider = page.getByLabel(/stable .* \/ canary/);
    await slider.waitFor();
    await slider.focus();
    // Keyboard only: Home puts everything on canary, then 30 steps of 1% back to stable → stable 30% / canary 70%.
    await slider.press("Home");
    for (let i = 0; i < 30; i++) await slider.press("ArrowRight");
    await page.getByRole("button", { name: "Apply split" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Apply split" }).click();
    await until(
      "the split in Postgres",
      async () => {
        const vs = await stack.db.deploymentVariant.findMany({ where: { deploymentId: second.id }, select: { role: true, weightBps: true } });
        return vs.find((v) => v.role === "stable")?.weightBps === 3000 && vs.find((v) => v.role === "canary")?.weightBps === 7000;
      },
      15_000,
    );
    await shot(page, "deployment-split");

    await page.getByRole("button", { name: "Roll back" }).click();
    const dialog = page.getByRole("dialog");
    expect(await dialog.getByRole("button", { name: "Roll back" }).isDisabled()).toBe(true);
    await dialog.getByLabel("Reason (recorded in the audit log)").fill("p99 regression seen in the e2e test");
    await dialog.getByRole("button", { name: "Roll back" }).click();
    await until("rolled back", async () => (await stack.db.deployment.findUnique({ where: { id: second.id }, select: { state: true } }))?.state === "rolled_back", 30_000);
    await page.getByText("rolled back").first().waitFor();
    await shot(page, "deployment-rolled-back");

    const audit = await stack.db.auditLog.findMany({ where: { subjectId: second.id }, select: { action: true, actorId: true } });
    expect(audit.map((a) => a.action)).toEqual(expect.arrayContaining([expect.stringMatching(/split/), expect.stringMatching(/rollback|rolled_back/)]));
    expect(audit.filter((a) => /split|roll/.test(a.action)).every((a) => a.actorId === stack.admin.id)).toBe(true);
  });

  it("shows the registry, the audit log and settings", async () => {
    await page.goto(`${stack.baseUrl}/models`);
    await page.getByRole("heading", { name: "e2e-assistant" }).waitFor();
    await shot(page, "models");
    const versions = await stack.db.modelVersion.findMany({ where: { modelName: "e2e-assistant" }, select: { id: true }, orderBy: { version: "asc" } });
    await page.goto(`${stack.baseUrl}/models/${versions[0]!.id}`);
    await page.getByRole("img", { name: "Lineage graph" }).waitFor();
    await shot(page, "model-version");
    if (versions.length > 1) {
      await page.goto(`${stack.baseUrl}/models/compare?a=${versions[0]!.id}&b=${versions[1]!.id}`);
      await page.getByText("Δ (B − A)").waitFor();
      await shot(page, "models-compare");
    }
    await page.goto(`${stack.baseUrl}/audit`);
    // The rows are fetched in the browser, so once one shows the page is hydrated: typing before that can land in the
    // server-rendered input without React seeing it, and the filter would never apply.
    await page.locator("td.mono").first().waitFor();
    await page.getByLabel("Action").fill("deployment.create");
    await page.locator("td.mono", { hasText: /^deployment\.create$/ }).first().waitFor();
    // Once the debounced filter applies, only that action is listed.
    await expect.poll(() => page.locator("td.mono", { hasText: /^(?!deployment\.create$)/ }).count(), { timeout: 10_000 }).toBe(0);
    await shot(page, "audit");

    await page.goto(`${stack.baseUrl}/settings`);
    // Hydrated once the client-fetched token list (or its empty state) shows; see the audit filter above.
    await page.getByText("No tokens yet").or(page.locator("table")).first().waitFor();
    await page.getByLabel("Name").fill("ci");
    await page.getByRole("button", { name: "Create token" }).click();
    const secret = await page.getByTestId("one-time-secret").innerText();
    expect(secret).toMatch(/^lp_/);
    // The secret works as a Bearer token and is never shown again.
    const me = await fetch(`${stack.baseUrl}/api/v1/me`, { headers: { authorization: `Bearer ${secret}` } });
    expect(me.status).toBe(200);
    await shot(page, "settings-tokens");
    await page.reload();
    await page.getByRole("cell", { name: /^ci/ }).waitFor();
    expect(await page.getByTestId("one-time-secret").count()).toBe(0);
  });
});
