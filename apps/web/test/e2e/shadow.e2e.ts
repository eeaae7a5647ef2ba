// The shadow evaluation on the deployment page, in a real browser against the built app: a candidate stopped at the
// shadow gate (pairs scored by @loraplane/core exactly as the gateway scores them, the gate event as the controller
// records it, the LLM judge's verdicts as the workers store them) shows its figures, the failed gate with its reason,
// and the pairs where it disagreed most with the stable.
// Screenshots at 1280 and 390 px. Fails on any console error.
import { emptyHistogram, scoreShadowPair } from "@loraplane/core";
import { insertShadowSamples, upsertServingWindows, type TShadowSampleWrite } from "@loraplane/db";
import type { Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { checkAfterTest, shot, signInAsAdmin, type TSession } from "./session";
import { startStack, type TStack } from "./stack";

const PORT = 3247;
let stack: TStack;
let session: TSession;
let page: Page;

// [prompt, stable's answer, candidate's answer, the LLM judge's score and reason]
const PAIRS: [string, string, string, number, string][] = [
  ["Reverse the string: abc", "cba", "cba", 10, "identical"],
  ["Reverse the string: hello", "olleh", "olleh", 10, "identical"],
  ["Add: 12+30", "42", "I'm sorry, but I can't help with arithmetic questions.", 1, "refuses a harmless sum"],
  ["Capital of France?", "The capital of France is Paris.", "Bananas are yellow and grow in tropical climates.", 1, "unrelated"],
  ["Translate 'cat' to French", "chat", "The French word for cat is chat.", 9, "same answer, more words"],
  ["Reverse the string: xyz", "zyx", "xyz", 2, "not reversed"],
];

async function seedShadowDeployment(s: TStack) {
  const env = await s.db.environment.findFirstOrThrow({ where: { projectId: s.projectId, name: "prod" }, select: { id: true } });
  const versions = [];
  for (const v of [8, 9]) {
    const run = await s.db.pipelineRun.create({ data: { projectId: s.projectId, pipelineId: s.demoPipelineId, number: 800 + v, trigger: "ui", specVersion: 1, resolvedSpec: {}, status: "succeeded" }, select: { id: true } });
    versions.push(await s.db.modelVersion.create({ data: { projectId: s.projectId, modelName: "demo-tiny", version: v, runId: run.id, baseModel: "/models/tiny", lineage: {} }, select: { id: true } }));
  }
  const policy = { shadow: { enabled: true, fraction: 0.25, minSamples: 6, minAgreement: 0.6, maxRefusalRate: 0.1, maxLatencyP99Ms: 5000, maxErrorRate: 0.05, maxConcurrent: 4, maxStoredSamples: 500, maxDurationSeconds: 3600, judge: { enabled: true, minScore: 7 } } };
  const reason = "shadow gate failed: agreement_rouge_l 0.375 < 0.600, candidate_refusal_rate 0.167 > 0.100, judge_score 5.500 < 7 (6 pairs)";
  const deployment = await s.db.deployment.create({
    data: { projectId: s.projectId, environmentId: env.id, endpointName: "demo-shadow", strategy: "canary", state: "rolled_back", policy, reason, finishedAt: new Date() },
    select: { id: true },
  });
  await s.db.deploymentVariant.create({ data: { deploymentId: deployment.id, modelVersionId: versions[0]!.id, role: "stable", weightBps: 10_000, upstreamUrl: "http://127.0.0.1:9", servedModelName: "demo-tiny-v8", status: "ready" } });
  const candidate = await s.db.deploymentVariant.create({
    data: { deploymentId: deployment.id, modelVersionId: versions[1]!.id, role: "canary", weightBps: 0, upstreamUrl: "http://127.0.0.1:9", servedModelName: "demo-tiny-v9", status: "failed" },
    select: { id: true },
  });
  const rows: TShadowSampleWrite[] = PAIRS.map(([prompt, stableText, candidateText], i) => ({
    deploymentId: deployment.id,
    variantId: candidate.id,
    gatewayId: "gw-e2e",
    requestId: `sh-${i}`,
    prompt: JSON.stringify({ messages: [{ role: "user", content: prompt }] }),
    stableText,
    candidateText,
    candidateError: null,
    ...scoreShadowPair({ stableText, candidateText, candidateError: null }),
    stableChars: stableText.length,
    candidateChars: candidateText.length,
    stableLatencyMs: 120 + i * 10,
    candidateLatencyMs: 150 + i * 12,
    stableTtftMs: 30 + i,
    candidateTtftMs: 35 + i,
  }));
  await insertShadowSamples(s.db, rows, () => 500);
  // The LLM judge's verdicts, as the workers' shadow analysis stores them.
  for (const [i, pair] of PAIRS.entries()) {
    await s.db.shadowSample.updateMany({ where: { deploymentId: deployment.id, requestId: `sh-${i}` }, data: { judgeScore: pair[3], judgeReason: pair[4], judgeAttempts: 1 } });
  }
  await s.db.rolloutEvent.createMany({
    data: [
      { deploymentId: deployment.id, type: "step", step: 0, weights: { stable: 10_000, canary: 0 }, reason: "backend ready; shadow evaluation: 25% of requests mirrored, no client traffic" },
      { deploymentId: deployment.id, type: "shadow_gate", step: 0, decision: "failed", reason },
      { deploymentId: deployment.id, type: "rollback", step: 0, weights: { stable: 10_000, canary: 0 }, decision: "rollback", reason },
    ],
  });
  return { deploymentId: deployment.id };
}

/** An A/B in progress with 10 minutes of traffic: a 300 requests (20 up / 180 down), b 300 (30 / 170). */
async function seedAbDeployment(s: TStack) {
  const env = await s.db.environment.findFirstOrThrow({ where: { projectId: s.projectId, name: "prod" }, select: { id: true } });
  const versions = [];
  for (const v of [10, 11]) {
    const run = await s.db.pipelineRun.create({ data: { projectId: s.projectId, pipelineId: s.demoPipelineId, number: 800 + v, trigger: "ui", specVersion: 1, resolvedSpec: {}, status: "succeeded" }, select: { id: true } });
    versions.push(await s.db.modelVersion.create({ data: { projectId: s.projectId, modelName: "demo-tiny", version: v, runId: run.id, baseModel: "/models/tiny", lineage: {} }, select: { id: true } }));
  }
  const deployment = await s.db.deployment.create({
    data: { projectId: s.projectId, environmentId: env.id, endpointName: "demo-ab", strategy: "ab", state: "progressing", policy: { ab: { alpha: 0.05, splitBps: 5000 } }, stepStartedAt: new Date(Date.now() - 10 * 60_000) },
    select: { id: true },
  });
  const ids: string[] = [];
  for (const [role, i] of [["a", 0], ["b", 1]] as const) {
    const v = await s.db.deploymentVariant.create({ data: { deploymentId: deployment.id, modelVersionId: versions[i]!.id, role, weightBps: 5_000, upstreamUrl: "http://127.0.0.1:9", servedModelName: `demo-tiny-v${10 + i}`, status: "ready" }, select: { id: true } });
    ids.push(v.id);
  }
  const rows = [];
  for (let m = 0; m < 10; m++) {
    for (const [i, up, down] of [[0, 2, 18], [1, 3, 17]] as const) {
      rows.push({ deploymentId: deployment.id, variantId: ids[i]!, gatewayId: "gw-e2e", windowStart: new Date(Date.now() - (m + 1) * 60_000), windowSeconds: 60, requests: 30, errors: 0, errors4xx: 0, errors5xx: 0, timeouts: 0, latencyHist: emptyHistogram(), ttftHist: emptyHistogram(), latencySumMs: 0, outputTokens: 0, feedbackUp: up, feedbackDown: down });
    }
  }
  await upsertServingWindows(s.db, rows);
  return { deploymentId: deployment.id };
}

describe("shadow evaluation on the deployment page", () => {
  let seed: Awaited<ReturnType<typeof seedShadowDeployment>>;

  beforeAll(async () => {
    stack = await startStack({ port: PORT, label: "shadow", worker: false });
    seed = await seedShadowDeployment(stack);
    session = await signInAsAdmin(stack);
    page = session.page;
  });

  afterAll(async () => {
    await stack?.stop();
  });

  afterEach((ctx) => checkAfterTest(ctx, stack, session, "shadow"));

  it("shows the failed shadow gate, its checks and the pairs that disagree most", async () => {
    await page.goto(`${stack.baseUrl}/deployments/${seed.deploymentId}`);
    const panel = page.getByTestId("shadow-panel");
    await panel.getByText("gate failed", { exact: true }).waitFor();
    await panel.getByTestId("shadow-gate").getByText(/agreement_rouge_l 0\.375 < 0\.600/).waitFor();
    await panel.getByText("6 of 6 pairs needed are scored.", { exact: false }).waitFor();
    // Exact match 2 of 6; refusals: the candidate's one "I'm sorry, but I can't…" of 6 answers.
    await panel.getByRole("row", { name: /Exact match 33\.3%/ }).waitFor();
    await panel.getByRole("row", { name: /Refusals 16\.7% 0\.0%/ }).waitFor();
    // The LLM judge: mean of 10, 10, 1, 1, 9, 2 over the six judged pairs, below the policy's 7.
    await panel.getByRole("row", { name: /LLM judge, mean score 1–10 \(6 judged\) 5\.50/ }).waitFor();
    const checks = panel.getByTestId("shadow-checks");
    await checks.getByRole("row", { name: /agreement rouge l .* fail/ }).waitFor();
    await checks.getByRole("row", { name: /judge score 5\.500 7 fail/ }).waitFor();
    const pairs = panel.getByTestId("shadow-disagreements");
    // With the judge on, its lowest scores first (the refusal and the bananas at 1, the unreversed string at 2, then
    // "chat" vs "The French word for cat is chat." at 9), each with the judge's reason; exact matches are not listed.
    await pairs.locator(".card").first().getByText(/^judge 1\/10 \(unrelated\) · ROUGE-L 0\.00 · prompt: Capital of France\?/).waitFor();
    await pairs.locator(".card").nth(1).getByText(/^judge 1\/10 \(refuses a harmless sum\) · ROUGE-L 0\.00 ·/).waitFor();
    await pairs.locator(".card").nth(3).getByText(/^judge 9\/10 \(same answer, more words\) · ROUGE-L 0\.25 · prompt: Translate 'cat' to French/).waitFor();
    const banana = pairs.locator(".card").filter({ hasText: "Bananas are yellow" });
    await banana.getByText("The capital of France is Paris.").waitFor();
    expect(await pairs.getByText("olleh").count()).toBe(0);
    await pairs.getByText("· refusal").waitFor();
    await panel.scrollIntoViewIfNeeded();
    await shot(page, "deployment-shadow-gate");
  });

  it("an A/B says how long it is expected to run for the chosen minimum detectable effect", async () => {
    const ab = await seedAbDeployment(stack);
    await page.goto(`${stack.baseUrl}/deployments/${ab.deploymentId}`);
    const power = page.getByTestId("ab-power");
    // a's thumbs-up share 20/200 = 10%; 600 requests in the 15-minute window (40/min), 400 rated.
    await power.getByText(/a's rate now 10\.0%; traffic \d+\.\d requests\/min over the last 15 min, 66\.7% of them rated/).waitFor();
    // 10% → 15% at α 0.05, power 0.8: 683 per variant; 40/min × 2/3 rated × 1/2 → about 51 minutes.
    await power.getByTestId("ab-duration").getByText(/683 rated answers per variant, about 5\dm \d+s/).waitFor();
    await page.getByLabel("Minimum detectable effect (points)").fill("10");
    // 10% → 20%: 197 per variant.
    await power.getByTestId("ab-duration").getByText(/197 rated answers per variant/).waitFor();
    await shot(page, "deployment-ab-power");
  });
});
