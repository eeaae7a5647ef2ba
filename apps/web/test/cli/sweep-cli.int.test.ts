// `loraplane sweep …` and `loraplane run compare …` run as a user runs them (child process) against the real routes.
// Each CLI process starts tsx: seconds apiece on a loaded 2-core machine, hence the generous per-test timeouts.
import { writeFileSync, mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { useTestDb } from "@loraplane/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serverContext } from "../../src/server/context.ts";
import { configureEnv, makeProject, makeUser, type TFixture, tokenFor } from "../api/fixtures.ts";
import { cliRunner, serveApi, type TApiServer } from "./cli-harness.ts";

const t = useTestDb("web-cli-sweep");
let server: TApiServer;
let token = "";
let fx: TFixture;
const cli = cliRunner(() => ({ DATABASE_URL: t.url, LORAPLANE_URL: server.url, LORAPLANE_TOKEN: token }));


const tmp = mkdtempSync(path.join(os.tmpdir(), "lp-cli-sweep-"));
const runIds: string[] = [];

beforeAll(async () => {
  configureEnv(t.url);
  fx = await makeProject(t.db, "sweepy");
  const engineer = await makeUser(t.db, "eng@sweep-cli.test", "engineer");
  await t.db.projectMember.create({ data: { projectId: fx.projectId, userId: engineer.id, role: "engineer" } });
  await t.db.pipeline.update({ where: { id: fx.pipelineId }, data: { name: "sweepy-lora", spec: { name: "sweepy-lora", model: { name: "m", baseModel: "/models/tiny" }, dataset: { name: "ds", version: "v1" } } } });
  for (const [i, lr] of [1e-4, 3e-4].entries()) {
    const spec = { name: "sweepy-lora", model: { name: "m", baseModel: "/models/tiny" }, dataset: { name: "ds", version: "v1" }, training: { learningRate: lr } };
    const run = await t.db.pipelineRun.create({ data: { projectId: fx.projectId, pipelineId: fx.pipelineId, number: 20 + i, trigger: "api", specVersion: 1, resolvedSpec: spec, status: "succeeded" }, select: { id: true } });
    await t.db.evalResult.create({ data: { runId: run.id, metric: "exact_match", value: 0.25 * (i + 1), split: "test" } });
    runIds.push(run.id);
  }
  token = (await tokenFor(t.db, engineer.id)).secret;
  server = await serveApi();
});

afterAll(async () => {
  await server?.close();
  await serverContext().queue().close();
});

describe("loraplane sweep", () => {
  it("creates a grid sweep from flags, starts `concurrency` points and shows them", async () => {
    const created = await cli(["sweep", "create", "--pipeline", "sweepy-lora", "--grid", "training.learningRate=1e-4,3e-4", "--grid", "training.lora.r=8,16", "--metric", "rouge_l", "--concurrency", "2"]);
    expect(created.stderr).toBe("");
    expect(created.code).toBe(0);
    const id = /created sweep (\w+): 4 points, 2 started/.exec(created.stdout)?.[1];
    expect(id).toBeTruthy();
    const status = await cli(["sweep", "status", id!]);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain("0/4 finished, 2 active (at most 2)");
    expect(status.stdout).toMatch(/#\s+training\.learningRate\s+training\.lora\.r\s+RUN\s+STATUS\s+ROUGE_L/);
    expect(status.stdout).toMatch(/3\s+0\.0003\s+16\s+-\s+pending/);
    const early = await cli(["sweep", "register-best", id!]);
    expect(early.code).toBe(1);
    expect(early.stderr).toContain("no best run yet");
    const cancelled = await cli(["sweep", "cancel", id!]);
    expect(cancelled.stdout).toContain("cancelling; cancelled 2 run(s)");
  }, 180_000);

  it("takes the sweep from a file, flags overriding it", async () => {
    const file = path.join(tmp, "sweep.yaml");
    writeFileSync(file, "random:\n  training.learningRate: { min: 0.00001, max: 0.001, scale: log }\nsamples: 3\nseed: 7\nmetric: bleu\nconcurrency: 1\n");
    const r = await cli(["sweep", "create", "--pipeline", "sweepy-lora", "-f", file, "--metric", "exact_match", "--json"]);
    expect(r.code).toBe(0);
    const body = JSON.parse(r.stdout);
    expect(body.triggered).toBe(1);
    expect(body.sweep).toMatchObject({ objectiveMetric: "exact_match", concurrency: 1 });
    expect(body.sweep.points).toHaveLength(3);
  }, 180_000);

  it("refuses an unsweepable path before calling the API, and the API's field errors exit 2", async () => {
    const bad = await cli(["sweep", "create", "--pipeline", "sweepy-lora", "--grid", "train.lr=1e-4,3e-4", "--metric", "rouge_l"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--grid train.lr: not a sweepable setting; use one of: training.lora.r");
    const zero = await cli(["sweep", "create", "--pipeline", "sweepy-lora", "--grid", "training.learningRate=1e-4", "--metric", "rouge_l", "--concurrency", "0"]);
    expect(zero.code).toBe(2);
    expect(zero.stderr).toContain("- concurrency:");
    const noMetric = await cli(["sweep", "create", "--pipeline", "sweepy-lora", "--grid", "training.learningRate=1e-4"]);
    expect(noMetric.code).toBe(2);
    expect(noMetric.stderr).toContain("no metric");
  }, 180_000);
});

describe("loraplane run compare", () => {
  it("prints eval metrics side by side and the differing spec fields", async () => {
    const r = await cli(["run", "compare", ...runIds]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/METRIC\s+#20\s+#21/);
    expect(r.stdout).toMatch(/exact_match\s+0\.25\s+0\.5/);
    expect(r.stdout).toMatch(/training\.learningRate\s+0\.0001\s+0\.0003/);
    const one = await cli(["run", "compare", runIds[0]!]);
    expect(one.code).toBe(2);
  }, 180_000);
});
