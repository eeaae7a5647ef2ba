// The feedback loop in a real browser against the built app: interactions with gateway feedback (seeded as the
// gateway stores them) on a deployment → a reviewer corrects a thumbs-down answer → "Create dataset version" from the
// filtered slice → "Trigger pipeline on it" → the run's lineage shows deployment → feedback → dataset version → run.
// Screenshots at 1280 and 390 px. Fails on any console error.
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { insertInteractions, type TInteractionWrite } from "@loraplane/db";
import type { Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { checkAfterTest, shot, signInAsAdmin, type TSession } from "./session";
import { startStack, type TStack } from "./stack";

const PORT = 3246;
let stack: TStack;
let session: TSession;
let page: Page;

async function seedDeploymentWithFeedback(s: TStack) {
  const env = await s.db.environment.findFirstOrThrow({ where: { projectId: s.projectId, name: "prod" }, select: { id: true } });
  await s.db.environment.update({ where: { id: env.id }, data: { captureFeedbackData: true, feedbackRetentionDays: 14 } });
  const run = await s.db.pipelineRun.create({
    data: { projectId: s.projectId, pipelineId: s.demoPipelineId, number: 700, trigger: "ui", specVersion: 1, resolvedSpec: {}, status: "succeeded" },
    select: { id: true },
  });
  const mv = await s.db.modelVersion.create({ data: { projectId: s.projectId, modelName: "demo-tiny", version: 7, runId: run.id, baseModel: "/models/tiny", lineage: {} }, select: { id: true } });
  const deployment = await s.db.deployment.create({
    data: { projectId: s.projectId, environmentId: env.id, endpointName: "demo-tiny", strategy: "canary", state: "promoted", policy: {}, finishedAt: new Date() },
    select: { id: true },
  });
  const variant = await s.db.deploymentVariant.create({
    data: { deploymentId: deployment.id, modelVersionId: mv.id, role: "stable", weightBps: 10_000, upstreamUrl: "http://127.0.0.1:9", servedModelName: "demo-tiny-v7", status: "ready" },
    select: { id: true },
  });
  const at = (minutesAgo: number) => new Date(Date.now() - minutesAgo * 60_000);
  const row = (requestId: string, user: string, response: string, rating: "up" | "down" | null, minutesAgo: number, comment: string | null = null): TInteractionWrite => ({
    requestId,
    projectId: s.projectId,
    environmentId: env.id,
    deploymentId: deployment.id,
    variantId: variant.id,
    variantRole: "stable",
    modelVersionId: mv.id,
    endpointName: "demo-tiny",
    operation: "chat/completions",
    prompt: { messages: [{ role: "user", content: user }] },
    response,
    truncated: false,
    streamed: true,
    tokenId: null,
    userId: s.admin.id,
    rating,
    comment,
    ratedAt: rating ? at(minutesAgo - 1) : null,
    createdAt: at(minutesAgo),
  });
  await insertInteractions(s.db, [
    row("fb-1", "Reverse the string: abc", "cba", "up", 50),
    row("fb-2", "Reverse the string: hello", "olleh", "up", 40),
    row("fb-3", "Add: 12+30", "41", "down", 30, "off by one"),
    row("fb-4", "Reverse the string: xyz", "zyx", null, 20),
  ]);
  return { deploymentId: deployment.id };
}

describe("the feedback loop in the browser", () => {
  let seed: Awaited<ReturnType<typeof seedDeploymentWithFeedback>>;

  beforeAll(async () => {
    stack = await startStack({ port: PORT, label: "feedback", worker: false });
    seed = await seedDeploymentWithFeedback(stack);
    session = await signInAsAdmin(stack);
    page = session.page;
  });

  afterAll(async () => {
    await stack?.stop();
  });

  afterEach((ctx) => checkAfterTest(ctx, stack, session, "feedback"));

  it("an admin turns feedback capture on and sets its retention in the environment settings", async () => {
    await page.goto(`${stack.baseUrl}/settings`);
    await page.getByRole("tab", { name: "Environments" }).click();
    const capture = page.getByLabel("Capture feedback data in staging");
    await capture.waitFor();
    expect(await capture.isChecked()).toBe(false);
    // The checkbox shows what the server holds: it turns checked once the change is saved.
    await capture.click();
    await expect.poll(() => capture.isChecked(), { timeout: 10_000 }).toBe(true);
    await page.getByLabel("Feedback retention in days for staging").fill("60");
    await page.getByLabel("Feedback retention in days for staging").blur();
    await expect.poll(() => stack.db.environment.findFirst({ where: { projectId: stack.projectId, name: "staging" }, select: { captureFeedbackData: true, feedbackRetentionDays: true } })).toEqual({ captureFeedbackData: true, feedbackRetentionDays: 60 });
    expect(await page.getByLabel("Capture feedback data in prod").isChecked()).toBe(true);
    // Saved: the row's controls are enabled again.
    await expect.poll(() => capture.isEnabled()).toBe(true);
    await shot(page, "feedback-settings-environments");
  });

  it("corrects a thumbs-down answer, turns the slice into a dataset version, triggers a run on it and shows its lineage", async () => {
    await page.goto(`${stack.baseUrl}/deployments/${seed.deploymentId}`);
    const panel = page.getByTestId("feedback-panel");
    // Default slice: thumbs-up and corrected.
    await panel.getByTestId("feedback-counts").getByText("2 interactions match · 2 usable").waitFor();
    await panel.getByText("kept 14 days").waitFor();
    await panel.getByLabel("Thumbs down").check();
    await panel.getByTestId("feedback-counts").getByText("3 interactions match · 2 usable").waitFor();
    const down = panel.getByTestId("interaction-row").filter({ hasText: "Add: 12+30" });
    await down.getByText("“off by one”").waitFor();
    await down.getByRole("button", { name: "Correct" }).click();
    await down.getByLabel("Corrected answer").fill("42");
    await down.getByRole("button", { name: "Save correction" }).click();
    await down.getByTestId("correction").getByText("42").waitFor();
    await panel.getByTestId("feedback-counts").getByText("3 interactions match · 3 usable").waitFor();
    const corrected = await stack.db.interaction.findUniqueOrThrow({ where: { requestId: "fb-3" }, select: { correction: true, correctedById: true } });
    expect(corrected).toEqual({ correction: "42", correctedById: stack.admin.id });
    expect(await stack.db.auditLog.count({ where: { action: "interaction.correct" } })).toBe(1);

    await panel.getByLabel("New dataset name").fill("prod-feedback");
    await panel.getByLabel("Row format").selectOption("alpaca");
    await shot(page, "feedback-deployment");
    await panel.getByRole("button", { name: "Create dataset version" }).click();
    const created = panel.getByTestId("feedback-version-created");
    await created.getByText(/prod-feedback@v1/).waitFor();
    await created.getByText(/3 rows/).waitFor();

    const version = await stack.db.datasetVersion.findFirstOrThrow({ where: { dataset: { projectId: stack.projectId, name: "prod-feedback" } }, select: { id: true, uri: true, format: true, lineage: true, sourceDeploymentId: true } });
    expect(version).toMatchObject({ format: "alpaca", sourceDeploymentId: seed.deploymentId, lineage: { kind: "feedback", deploymentId: seed.deploymentId, filter: { ratings: ["up", "corrected", "down"] }, rows: 3 } });
    const rows = readFileSync(path.join(fileURLToPath(version.uri), "train.jsonl"), "utf8");
    // The thumbs-down answer trains as its correction; the unrated one is not in the slice.
    expect(rows).toContain('"instruction":"Add: 12+30","input":"","output":"42"');
    expect(rows).not.toContain("zyx");

    await created.getByRole("button", { name: "Trigger pipeline on it" }).click();
    const runLink = created.getByRole("link", { name: /^#\d+$/ });
    await runLink.waitFor();
    await shot(page, "feedback-version-created", false);
    const run = await stack.db.pipelineRun.findFirstOrThrow({ where: { datasetVersionId: version.id }, select: { id: true, number: true, resolvedSpec: true } });
    expect((run.resolvedSpec as { dataset: unknown }).dataset).toMatchObject({ name: "prod-feedback", version: "v1", format: "alpaca" });

    await runLink.click();
    await page.waitForURL(new RegExp(`/runs/${run.id}$`));
    await page.getByRole("tab", { name: "Lineage" }).click();
    const graph = page.getByRole("img", { name: "Lineage graph" });
    await graph.waitFor();
    // deployment → feedback slice → dataset version → run, edge by edge.
    for (const edge of [`s:${seed.deploymentId}->f:${version.id}`, `f:${version.id}->d:${version.id}`, `d:${version.id}->r:${run.id}`]) {
      expect(await graph.locator(`path[data-edge="${edge}"]`).count(), edge).toBe(1);
    }
    await graph.getByText("prod-feedback@v1", { exact: true }).waitFor();
    await graph.getByText("3 rows", { exact: true }).waitFor();
    expect(await graph.locator("title").allTextContents()).toContainEqual(expect.stringMatching(/^Feedback: 3 rows .*up\+corrected\+down/));
    await shot(page, "feedback-run-lineage");
  });
});
