// Keyboard review of a review-gated run and the gate override of a blocked run, in a real browser against the built
// app on seeded data (no worker: the released gate stays queued, which is what this page must show). Screenshots of
// the review UI at 1280 and 390 px. Fails on any console error.
import type { Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { checkAfterTest, shot, signInAsAdmin, type TSession } from "./session";
import { startStack, type TStack } from "./stack";

const PORT = 3241;
let stack: TStack;
let session: TSession;
let page: Page;


async function seedRuns(s: TStack) {
  const pipeline = await s.db.pipeline.findUniqueOrThrow({ where: { id: s.demoPipelineId }, select: { spec: true } });
  const base = pipeline.spec as Record<string, unknown> & { eval?: Record<string, unknown> };
  const spec = {
    ...base,
    eval: { ...base.eval, thresholds: [{ metric: "rouge_l", comparator: ">=", value: 0.9, blocking: true }, { metric: "human_review_pass_rate", comparator: ">=", value: 0.6, blocking: true }] },
    gate: { review: { required: true, minReviewed: 3 } },
  };
  const make = async (number: number, status: "awaiting_review" | "blocked", stage: "gate" | "approve") => {
    const run = await s.db.pipelineRun.create({
      data: { projectId: s.projectId, pipelineId: s.demoPipelineId, number, trigger: "ui", specVersion: 1, resolvedSpec: spec, requestedById: s.admin.id, status, currentStage: stage, startedAt: new Date(Date.now() - 600_000), error: status === "blocked" ? (stage === "gate" ? "blocked by the evaluation gate: rouge_l = 0.75, needs >= 0.9 (blocking)" : "approval rejected: not this week") : null, finishedAt: status === "blocked" ? new Date() : null },
      select: { id: true },
    });
    for (const st of ["prepare", "train", "eval"] as const) await s.db.stageRun.create({ data: { runId: run.id, stage: st, status: "succeeded", startedAt: new Date(Date.now() - 500_000), finishedAt: new Date(Date.now() - 400_000) } });
    await s.db.stageRun.create({ data: { runId: run.id, stage, status: status === "blocked" ? "failed" : "waiting", startedAt: new Date(Date.now() - 300_000) } });
    await s.db.evalResult.create({ data: { runId: run.id, metric: "rouge_l", value: 0.75 } });
    await s.db.evalSample.createMany({
      data: Array.from({ length: 6 }, (_, index) => ({ runId: run.id, index, prompt: `Reverse the string: ${"abcdef".slice(index)}`, reference: "abcdef".slice(index).split("").reverse().join(""), prediction: index % 3 === 2 ? "fedcab" : "abcdef".slice(index).split("").reverse().join(""), scores: { rouge_l: index % 3 === 2 ? 0.5 : 1 } })),
    });
    return run.id;
  };
  return { awaiting: await make(101, "awaiting_review", "gate"), blocked: await make(102, "blocked", "gate"), rejected: await make(103, "blocked", "approve") };
}

describe("review-gated runs in the browser", () => {
  let seed: Awaited<ReturnType<typeof seedRuns>>;

  beforeAll(async () => {
    stack = await startStack({ port: PORT, label: "review", worker: false });
    seed = await seedRuns(stack);
    session = await signInAsAdmin(stack);
    page = session.page;
  });

  afterAll(async () => {
    await stack?.stop();
  });

  afterEach((ctx) => checkAfterTest(ctx, stack, session, "review"));

  it("reviews samples with the keyboard only (j/k move, g/b mark) until the quota releases the gate", async () => {
    await page.goto(`${stack.baseUrl}/runs/${seed.awaiting}`);
    const banner = page.getByTestId("awaiting-review");
    await banner.getByText("0 of 3 needed samples reviewed").waitFor();
    // No Retry or Override on a run that waits for review; Cancel is offered.
    expect(await page.getByRole("button", { name: /Retry|Re-run gate|Override gate/ }).count()).toBe(0);
    await page.getByRole("button", { name: "Cancel run" }).waitFor();
    await banner.getByRole("button", { name: "Review samples" }).click();
    const rows = page.locator("tr[data-sample]");
    await rows.first().waitFor();
    // Keyboard from here on: Tab reaches the table's one tab stop (the first sample).
    await rows.first().focus();
    await page.keyboard.press("g");
    await page.getByTestId("review-progress").getByText("1 of 6 reviewed").waitFor();
    await page.keyboard.press("j");
    expect(await page.evaluate(() => document.activeElement?.getAttribute("data-sample"))).toBe("1");
    await page.keyboard.press("g");
    await page.keyboard.press("j");
    await page.keyboard.press("b");
    await page.getByTestId("review-progress").getByText("3 of 6 reviewed").waitFor();
    await page.keyboard.press("k");
    expect(await page.evaluate(() => document.activeElement?.getAttribute("data-sample"))).toBe("1");
    // The focused row is visibly marked.
    expect(await page.locator("tr.sample-focused").getAttribute("data-sample")).toBe("1");
    await shot(page, "review-keyboard");
    const marks = await stack.db.evalSample.findMany({ where: { runId: seed.awaiting }, select: { index: true, review: true }, orderBy: { index: "asc" } });
    expect(marks.map((m) => m.review)).toEqual(["good", "good", "bad", null, null, null]);
    // The third review met the quota: the gate is queued for the worker and the run no longer waits for review.
    const run = await stack.db.pipelineRun.findUniqueOrThrow({ where: { id: seed.awaiting }, select: { status: true } });
    expect(run.status).toBe("running");
    await page.getByTestId("awaiting-review").waitFor({ state: "detached", timeout: 10_000 });
  });

  it("offers Override and Re-run gate on a gate-blocked run, nothing on a rejected approval, and the override re-gates", async () => {
    await page.goto(`${stack.baseUrl}/runs/${seed.rejected}`);
    await page.getByText("approval rejected: not this week").waitFor();
    expect(await page.getByRole("button", { name: /Retry|Re-run gate|Override gate/ }).count()).toBe(0);

    await page.goto(`${stack.baseUrl}/runs/${seed.blocked}`);
    await page.getByRole("button", { name: "Re-run gate" }).waitFor();
    await page.getByRole("button", { name: "Override gate…" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByLabel(/rouge_l >=/).fill("0.7");
    await dialog.getByLabel(/Reason/).fill("0.75 is enough for the internal beta");
    await shot(page, "review-override-dialog");
    await dialog.getByRole("button", { name: "Override and re-run gate" }).click();
    await dialog.waitFor({ state: "detached" });
    await page.getByRole("button", { name: "Cancel run" }).waitFor();
    const audit = await stack.db.auditLog.findFirstOrThrow({ where: { subjectId: seed.blocked, action: "run.gate_override" }, select: { after: true } });
    expect(audit.after).toMatchObject({ reason: "0.75 is enough for the internal beta", thresholds: [{ metric: "rouge_l", value: 0.7 }] });
  });
});
