// The traffic-split chart on the deployment page, in a real browser against the built app: an adaptive A/B whose
// Thompson-sampling ticks moved b's weight three times (rollout events as the controller records them, with a pause
// and resume in between that change nothing) draws one step per weight change for each variant, extended to now,
// and its tooltip names the event's reason; a promoted canary draws its steps up to the promotion. Screenshots at
// 1280 and 390 px. Fails on any console error.
import type { Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { checkAfterTest, shot, signInAsAdmin, type TSession } from "./session";
import { startStack, type TStack } from "./stack";

const PORT = 3262;
let stack: TStack;
let session: TSession;
let page: Page;

const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000);

async function seedDeployment(
  s: TStack,
  input: { endpointName: string; strategy: "ab" | "canary"; state: "progressing" | "promoted"; policy: unknown; roles: ["a", "b"] | ["stable", "canary"]; versions: [number, number]; finished?: boolean },
  events: { minutesAgo: number; type: string; weights?: Record<string, number>; decision?: string; step?: number; reason: string }[],
) {
  const env = await s.db.environment.findFirstOrThrow({ where: { projectId: s.projectId, name: "prod" }, select: { id: true } });
  const deployment = await s.db.deployment.create({
    data: {
      projectId: s.projectId,
      environmentId: env.id,
      endpointName: input.endpointName,
      strategy: input.strategy,
      state: input.state,
      policy: input.policy as object,
      createdAt: minutesAgo(events[0]!.minutesAgo),
      stepStartedAt: minutesAgo(events[0]!.minutesAgo),
      finishedAt: input.finished ? minutesAgo(events.at(-1)!.minutesAgo) : null,
    },
    select: { id: true },
  });
  const last = [...events].reverse().find((e) => e.weights)!.weights!;
  for (const [i, role] of input.roles.entries()) {
    const v = input.versions[i]!;
    const run = await s.db.pipelineRun.create({ data: { projectId: s.projectId, pipelineId: s.demoPipelineId, number: 900 + v, trigger: "ui", specVersion: 1, resolvedSpec: {}, status: "succeeded" }, select: { id: true } });
    const version = await s.db.modelVersion.create({ data: { projectId: s.projectId, modelName: "demo-tiny", version: v, runId: run.id, baseModel: "/models/tiny", lineage: {} }, select: { id: true } });
    await s.db.deploymentVariant.create({
      data: { deploymentId: deployment.id, modelVersionId: version.id, role, weightBps: last[role] ?? 0, upstreamUrl: "http://127.0.0.1:9", servedModelName: `demo-tiny-v${v}`, status: "ready" },
    });
  }
  await s.db.rolloutEvent.createMany({
    data: events.map((e) => ({ deploymentId: deployment.id, type: e.type, step: e.step ?? null, weights: e.weights, decision: e.decision ?? null, reason: e.reason, createdAt: minutesAgo(e.minutesAgo) })),
  });
  return deployment.id;
}

const summary = (a: string, b: string, p: string) => `feedback a ${a}, b ${b}; P(b best) ${p}`;

/** Adaptive A/B, still running: 50/50, then b 61% → 74% → 86%; the pause and resume keep the split. */
const seedAdaptiveAb = (s: TStack) =>
  seedDeployment(
    s,
    { endpointName: "demo-adaptive", strategy: "ab", state: "progressing", policy: { ab: { alpha: 0.05, splitBps: 5000, allocation: { mode: "thompson", metric: "feedback" } } }, roles: ["a", "b"], versions: [12, 13] },
    [
      { minutesAgo: 40, type: "created", weights: { a: 10_000, b: 0 }, reason: "stable is demo-tiny-v12" },
      { minutesAgo: 38, type: "step", step: 0, weights: { a: 5000, b: 5000 }, reason: "backend ready (2 of 2 instances); traffic started" },
      { minutesAgo: 30, type: "reweight", step: 0, weights: { a: 3900, b: 6100 }, decision: "reweight", reason: `adaptive split b 5000 → 6100 bps: ${summary("0.100 (10/100)", "0.160 (16/100)", "0.701")}` },
      { minutesAgo: 26, type: "analysis", step: 0, decision: "continue", reason: "within SLOs" },
      { minutesAgo: 22, type: "reweight", step: 0, weights: { a: 2600, b: 7400 }, decision: "reweight", reason: `adaptive split b 6100 → 7400 bps: ${summary("0.098 (20/204)", "0.170 (41/241)", "0.832")}` },
      { minutesAgo: 18, type: "pause", step: 0, weights: { a: 2600, b: 7400 }, reason: "paused" },
      { minutesAgo: 16, type: "resume", step: 0, weights: { a: 2600, b: 7400 }, reason: "resumed" },
      { minutesAgo: 10, type: "reweight", step: 0, weights: { a: 1400, b: 8600 }, decision: "reweight", reason: `adaptive split b 7400 → 8600 bps: ${summary("0.101 (31/307)", "0.176 (72/409)", "0.930")}` },
    ],
  );

/** Canary 5% → 25% → 50%, promoted. */
const seedPromotedCanary = (s: TStack) =>
  seedDeployment(
    s,
    { endpointName: "demo-canary-steps", strategy: "canary", state: "promoted", policy: { canary: { stepsBps: [500, 2500, 5000, 10_000], minRequests: 20 } }, roles: ["stable", "canary"], versions: [14, 15], finished: true },
    [
      { minutesAgo: 50, type: "created", weights: { stable: 10_000, canary: 0 }, reason: "stable is demo-tiny-v14" },
      { minutesAgo: 48, type: "step", step: 0, weights: { stable: 9500, canary: 500 }, reason: "backend ready (1 of 1 instances); traffic started" },
      { minutesAgo: 40, type: "step", step: 1, weights: { stable: 7500, canary: 2500 }, decision: "advance", reason: "SLOs held at step 1/4; advancing to 25%" },
      { minutesAgo: 30, type: "step", step: 2, weights: { stable: 5000, canary: 5000 }, decision: "advance", reason: "SLOs held at step 2/4; advancing to 50%" },
      { minutesAgo: 20, type: "promote", step: 2, weights: { stable: 0, canary: 10_000 }, decision: "promote", reason: "all steps passed" },
    ],
  );

/** The share each point of one variant's series shows, read off the rendered SVG, oldest first. */
async function sharesOf(chart: ReturnType<Page["getByTestId"]>, role: string): Promise<number[]> {
  const dots = chart.locator(`svg [data-split-role="${role}"]`);
  return (await dots.evaluateAll((nodes) => nodes.map((n) => Number(n.getAttribute("data-split-share"))))) as number[];
}

/** Points the mouse at one point's column, halfway up the plot: the tooltip follows the time axis. */
async function hoverColumnOf(page: Page, chart: ReturnType<Page["getByTestId"]>, dot: ReturnType<Page["locator"]>): Promise<void> {
  await chart.scrollIntoViewIfNeeded();
  // Measured once the chart has settled (ResponsiveContainer re-renders when the page's scrollbar appears).
  await dot.waitFor();
  const point = (await dot.boundingBox())!;
  const grid = chart.locator(".recharts-cartesian-grid");
  await grid.waitFor();
  const plot = (await grid.boundingBox())!;
  await page.mouse.move(point.x + point.width / 2, plot.y + plot.height / 2, { steps: 4 });
}

describe("traffic-split chart on the deployment page", () => {
  beforeAll(async () => {
    stack = await startStack({ port: PORT, label: "split", worker: false });
    session = await signInAsAdmin(stack);
    page = session.page;
  });

  afterAll(async () => {
    await stack?.stop();
  });

  afterEach((ctx) => checkAfterTest(ctx, stack, session, "traffic-split"));

  it("draws an adaptive A/B's reweights as steps per variant, up to now, with each change's reason", async () => {
    const deploymentId = await seedAdaptiveAb(stack);
    await page.goto(`${stack.baseUrl}/deployments/${deploymentId}`);
    const chart = page.getByTestId("traffic-split-chart");
    await chart.locator("svg.recharts-surface").first().waitFor();
    await chart.getByText(/Thompson sampling/).waitFor();
    // Legend: role and model version.
    await chart.locator(".recharts-legend-wrapper").getByText("a · demo-tiny-v12").waitFor();
    await chart.locator(".recharts-legend-wrapper").getByText("b · demo-tiny-v13").waitFor();
    // One point per weight change (created, traffic started, three reweights); the pause and resume add none.
    expect(await sharesOf(chart, "a")).toEqual([100, 50, 39, 26, 14]);
    expect(await sharesOf(chart, "b")).toEqual([0, 50, 61, 74, 86]);
    // Two stepped series, extended to now while the A/B runs.
    expect(await chart.locator(".recharts-area-curve").count()).toBe(2);
    await chart.locator(".recharts-reference-line").waitFor({ state: "attached" });
    await chart.locator("svg").getByText("now", { exact: true }).waitFor();
    // Percent axis.
    expect(await chart.locator("svg text").allTextContents()).toEqual(expect.arrayContaining(["0%", "25%", "50%", "75%", "100%"]));

    await hoverColumnOf(page, chart, chart.locator('svg [data-split-role="b"]').last());
    const tooltip = chart.locator(".recharts-tooltip-wrapper");
    await tooltip.getByText(/reweight: adaptive split b 7400 → 8600 bps: .*P\(b best\) 0\.930/).waitFor();
    await tooltip.getByText("b · demo-tiny-v13: 86%").waitFor();
    await tooltip.getByText("a · demo-tiny-v12: 14%").waitFor();
    await shot(page, "deployment-traffic-split");
  });

  it("draws a promoted canary's steps up to the promotion", async () => {
    const deploymentId = await seedPromotedCanary(stack);
    await page.goto(`${stack.baseUrl}/deployments/${deploymentId}`);
    const chart = page.getByTestId("traffic-split-chart");
    await chart.locator("svg.recharts-surface").first().waitFor();
    await chart.locator(".recharts-legend-wrapper").getByText("canary · demo-tiny-v15").waitFor();
    expect(await sharesOf(chart, "canary")).toEqual([0, 5, 25, 50, 100]);
    expect(await sharesOf(chart, "stable")).toEqual([100, 95, 75, 50, 0]);
    expect(await chart.locator(".recharts-reference-line").count()).toBe(0);
    await hoverColumnOf(page, chart, chart.locator('svg [data-split-role="canary"]').last());
    await chart.locator(".recharts-tooltip-wrapper").getByText("promote: all steps passed").waitFor();
    await shot(page, "deployment-traffic-split-canary", false);
  });
});
