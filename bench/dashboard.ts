// Dashboard: the run page of a run with a 1,000,000-point loss series and 200 eval samples, in headless Chromium
// against the built web app (`next start`, production build in apps/web/.next), signed in as an admin.
// Measured per page load (Performance API in the page): LCP (PerformanceObserver, largest-contentful-paint), the
// time the loss chart shows its data ("… of 1,000,000 points" note rendered), and an interaction — click on the
// Evaluation tab → first sample row painted (plus the Event Timing API's duration of that click, INP-like).
// Baseline in the same run, interleaved: the same page for a small run (1,000 points, 10 samples), so the ratio
// isolates what the data size costs while load from other processes hits both alike.
//   npx tsx bench/dashboard.ts [rounds=5]     (needs `npx next build` in apps/web, /usr/bin/chromium)
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { resolveSpec } from "@loraplane/core";
import { createPrismaClient, type Db, type Prisma } from "@loraplane/db";
import { createUser, setMembers } from "@loraplane/services";
import { chromium, type Browser, type Page } from "playwright-core";
import { createBenchDatabase } from "./bench-db.ts";
import { percentile, runBenchmark } from "./stats.ts";

const WEB_DIR = path.resolve(import.meta.dirname, "../apps/web");
const PORT = 3291;

interface TStack {
  baseUrl: string;
  db: Db;
  projectId: string;
  pipelineId: string;
  admin: { email: string; password: string };
  browser: Browser;
  stop(): Promise<void>;
}

/** A throwaway database with an admin and a project, the built web app (`next start`) on it, and Chromium. */
async function startStack(): Promise<TStack> {
  if (!existsSync(path.join(WEB_DIR, ".next/BUILD_ID"))) throw new Error("apps/web is not built: run `npx next build` in apps/web first");
  const database = await createBenchDatabase("dashboard");
  const db = createPrismaClient({ url: database.url, poolSize: 4 });
  const password = `admin-${randomBytes(8).toString("hex")}`;
  const { user } = await createUser(db, { email: "admin@bench.test", name: "Bench Admin", role: "admin", password }, { type: "system", userId: null });
  const project = await db.project.create({ data: { slug: "bench", name: "bench" }, select: { id: true } });
  await setMembers(db, project.id, [{ userId: user.id, role: "admin" }], { type: "user", userId: user.id });
  const spec = { name: "bench", model: { name: "m", baseModel: "/models/base" }, dataset: { name: "d", version: "v1" } };
  const pipeline = await db.pipeline.create({ data: { projectId: project.id, name: "bench", spec }, select: { id: true } });
  const baseUrl = `http://127.0.0.1:${PORT}`;
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: "production",
    DATABASE_URL: database.url,
    REDIS_URL: "redis://127.0.0.1:6379",
    QUEUE_PREFIX: `lp-bench-dash-${randomBytes(3).toString("hex")}`,
    LORAPLANE_DATA_DIR: mkdtempSync(path.join(os.tmpdir(), "lp-bench-dash-")),
    NEXTAUTH_URL: baseUrl,
    NEXTAUTH_SECRET: randomBytes(32).toString("hex"),
    LORAPLANE_SECRET_KEY: randomBytes(32).toString("hex"),
    LOG_LEVEL: "warn",
    NEXT_TELEMETRY_DISABLED: "1",
  };
  const web: ChildProcess = spawn(path.resolve(WEB_DIR, "../../node_modules/.bin/next"), ["start", "-p", String(PORT), "-H", "127.0.0.1"], { cwd: WEB_DIR, env, stdio: "ignore", detached: true });
  let browser: Browser | undefined;
  const stop = async () => {
    await browser?.close().catch(() => {});
    if (web.pid && web.exitCode === null) {
      const exited = new Promise<void>((resolve) => web.once("exit", () => resolve()));
      process.kill(-web.pid, "SIGTERM");
      await exited;
    }
    await db.$disconnect();
    await database.drop();
  };
  try {
    const deadline = Date.now() + 120_000;
    for (;;) {
      if (web.exitCode !== null) throw new Error("next start exited");
      if (await fetch(`${baseUrl}/api/health`).then((r) => r.ok, () => false)) break;
      if (Date.now() > deadline) throw new Error("the web app did not answer within 120 s");
      await new Promise((r) => setTimeout(r, 300));
    }
    browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"] });
  } catch (error) {
    await stop();
    throw error;
  }
  return { baseUrl, db, projectId: project.id, pipelineId: pipeline.id, admin: { email: "admin@bench.test", password }, browser, stop };
}

async function signIn(stack: TStack): Promise<{ page: Page; close(): Promise<void> }> {
  const context = await stack.browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();
  await page.goto(`${stack.baseUrl}/login`);
  await page.getByLabel("Email").fill(stack.admin.email);
  await page.getByLabel("Password").fill(stack.admin.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/\/pipelines$/, { timeout: 60_000 });
  return { page, close: () => context.close() };
}

const ROUNDS = Number(process.argv[2] ?? 5);
// Budget (justified in bench/README.md): LCP ≤ 1.5 s and chart ≤ 2 s absolute on a quiet machine; under shared load
// the ratio to the small run is what counts: ≤ 1.5× (the series is downsampled server-side to ≤ 1000 points, so
// the page should not grow with the series).
const BUDGET = { lcpMs: 1500, chartMs: 2000, ratio: 1.5 };

async function seedRun(stack: TStack, number: number, points: number, samples: number): Promise<string> {
  const { db } = stack;
  const pipeline = await db.pipeline.findUniqueOrThrow({ where: { id: stack.pipelineId }, select: { spec: true, projectId: true } });
  const resolved = resolveSpec(pipeline.spec);
  if (!resolved.ok) throw new Error("demo spec does not resolve");
  const finished = new Date();
  const run = await db.pipelineRun.create({
    data: { projectId: pipeline.projectId, pipelineId: stack.pipelineId, number, trigger: "api", specVersion: 1, resolvedSpec: resolved.spec as Prisma.InputJsonValue, status: "succeeded", startedAt: new Date(finished.getTime() - 3_600_000), finishedAt: finished },
    select: { id: true },
  });
  for (const stage of ["prepare", "train", "eval", "gate"] as const) {
    await db.stageRun.create({ data: { runId: run.id, stage, attempt: 1, status: "succeeded", startedAt: new Date(finished.getTime() - 3_000_000), finishedAt: finished } });
  }
  for (const [key, scale] of [["train/loss", 1], ["train/learning_rate", 0.0002], ["train/tokens_per_second", 900]] as const) {
    const n = key === "train/loss" ? points : Math.min(points, 1000);
    const series = await db.metricSeries.create({ data: { runId: run.id, key }, select: { id: true } });
    await db.$executeRawUnsafe(
      `INSERT INTO "MetricPoint" ("seriesId", step, value, "wallTime")
       SELECT $1, g, $2 * (1 + exp(-g / ($3 / 5.0)) + 0.05 * sin(g / 97.0) + 0.02 * random()), now() FROM generate_series(0, $3 - 1) g`,
      series.id,
      scale,
      n,
    );
    // Roll-ups as the ingest function builds them (its definition), so the page reads what production reads.
    await db.$executeRawUnsafe(
      `INSERT INTO "MetricRollup" ("seriesId", bucket, count, "firstStep", "firstValue", "lastStep", "lastValue", "minStep", "minValue", "maxStep", "maxValue")
       SELECT $1, b, n, f[1]::int, f[2], l[1]::int, l[2], mn[2]::int, mn[1], mx[2]::int, mx[1] FROM (
         SELECT step / 256 AS b, count(*)::int AS n, min(ARRAY[step, value]) AS f, max(ARRAY[step, value]) AS l, min(ARRAY[value, step]) AS mn, max(ARRAY[value, step]) AS mx
         FROM "MetricPoint" WHERE "seriesId" = $1 GROUP BY 1) a`,
      series.id,
    );
  }
  await db.evalResult.createMany({ data: [{ runId: run.id, metric: "rouge_l", value: 0.61 }, { runId: run.id, metric: "exact_match", value: 0.24 }] });
  await db.evalSample.createMany({
    data: Array.from({ length: samples }, (_, index) => ({ runId: run.id, index, prompt: `Translate the number ${index} into words, please. `.repeat(3), reference: `number ${index}`, prediction: `number ${index % 7 === 0 ? index + 1 : index}`, scores: { rouge_l: 0.6, exact_match: index % 7 === 0 ? 0 : 1 } })),
  });
  return run.id;
}

interface TSample {
  lcpMs: number;
  chartMs: number;
  clickToRowMs: number;
  clickEventMs: number;
}

async function measure(stack: TStack, page: Page, runId: string, totalPointsText: string): Promise<TSample> {
  await page.goto(`${stack.baseUrl}/runs/${runId}`, { waitUntil: "commit" });
  await page.evaluate(() => {
    const w = window as unknown as { __lcp: number; __events: number[] };
    w.__lcp = 0;
    w.__events = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) w.__lcp = Math.max(w.__lcp, e.startTime);
    }).observe({ type: "largest-contentful-paint", buffered: true } as PerformanceObserverInit);
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) if (e.name === "click" || e.name === "pointerup" || e.name === "pointerdown") w.__events.push(e.duration);
    }).observe({ type: "event", buffered: true, durationThreshold: 16 } as PerformanceObserverInit);
  });
  // The chart's note ("1000 of 1,000,000 points") renders with the chart's data: the meaningful paint of this page.
  const chartMs = await page.waitForFunction(
    (text) => {
      const found = [...document.querySelectorAll("*")].some((el) => el.childElementCount === 0 && el.textContent?.includes(text));
      return found ? new Promise<number>((resolve) => requestAnimationFrame(() => resolve(performance.now()))) : 0; // 0: not yet
    },
    totalPointsText,
    { timeout: 60_000, polling: "raf" },
  );
  const chart = (await chartMs.jsonValue()) as number;
  await page.waitForTimeout(300); // LCP entries stop at the first input; let the last candidate land
  const lcpMs = await page.evaluate(() => (window as unknown as { __lcp: number }).__lcp);
  const clickStart = await page.evaluate(() => performance.now());
  await page.getByRole("tab", { name: "Evaluation" }).click();
  await page.getByText("Translate the number 0 into words").first().waitFor({ timeout: 60_000 });
  const rowPainted = await page.evaluate(() => new Promise<number>((resolve) => requestAnimationFrame(() => resolve(performance.now()))));
  await page.waitForTimeout(200);
  const events = await page.evaluate(() => (window as unknown as { __events: number[] }).__events);
  return { lcpMs, chartMs: chart, clickToRowMs: rowPainted - clickStart, clickEventMs: events.length ? Math.max(...events) : 0 };
}

async function main(): Promise<void> {
  const stack = await startStack();
  try {
    const big = await seedRun(stack, 9001, 1_000_000, 200);
    const small = await seedRun(stack, 9002, 1_000, 10);
    const session = await signIn(stack);
    const { page } = session;
    await measure(stack, page, small, "1,000 points"); // warm-up: server code paths, caches, fonts
    await measure(stack, page, big, "1,000,000 points");
    const results: { big: TSample[]; small: TSample[] } = { big: [], small: [] };
    for (let r = 0; r < ROUNDS; r++) {
      results.big.push(await measure(stack, page, big, "1,000,000 points"));
      results.small.push(await measure(stack, page, small, "1,000 points"));
    }
    const med = (xs: TSample[], k: keyof TSample) => percentile(xs.map((x) => x[k]), 0.5);
    const max = (xs: TSample[], k: keyof TSample) => Math.max(...xs.map((x) => x[k]));
    console.log(`load average: ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`);
    console.log(`rounds: ${ROUNDS} (interleaved), medians (max)`);
    for (const k of ["lcpMs", "chartMs", "clickToRowMs", "clickEventMs"] as const) {
      const b = med(results.big, k);
      const s = med(results.small, k);
      console.log(`${k.padEnd(13)} 1M points + 200 samples: ${b.toFixed(0)} ms (${max(results.big, k).toFixed(0)}), small run: ${s.toFixed(0)} ms (${max(results.small, k).toFixed(0)}), ratio ${(b / Math.max(1, s)).toFixed(2)}×`);
    }
    const lcp = med(results.big, "lcpMs");
    const chart = med(results.big, "chartMs");
    const ratio = chart / med(results.small, "chartMs");
    console.log(`budget: LCP ≤ ${BUDGET.lcpMs} ms ${lcp <= BUDGET.lcpMs ? "met" : `missed by ${(lcp - BUDGET.lcpMs).toFixed(0)} ms`}; chart ≤ ${BUDGET.chartMs} ms ${chart <= BUDGET.chartMs ? "met" : `missed by ${(chart - BUDGET.chartMs).toFixed(0)} ms`}; chart ratio to the small run ≤ ${BUDGET.ratio}× ${ratio <= BUDGET.ratio ? "met" : "missed"} (${ratio.toFixed(2)}×)`);
    console.log(`reproduce: npx tsx bench/dashboard.ts ${ROUNDS}`);
    await session.close();
  } finally {
    await stack.stop();
  }
}

runBenchmark(main);
