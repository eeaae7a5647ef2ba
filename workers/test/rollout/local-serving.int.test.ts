// The rollout controller against the real gpu-runtime `serve`: a tiny random-init base model, two untrained LoRA
// adapters saved with peft. Exercises spawn + health wait, adapter loading at runtime, a blue-green smoke test with
// real completions, re-attaching to the running process from a fresh controller, and unloading a rolled-back adapter.
// Skipped (with the reason) when the venv is absent.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { findDeploymentById, findServingInstance } from "@loraplane/db";
import { useTestDb } from "@loraplane/db/testing";
import { createPipelineQueue } from "@loraplane/queue";
import { rollbackDeployment, startDeployment } from "@loraplane/services";
import { pino } from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { createRolloutController } from "../../src/rollout/controller.ts";
import { createLocalServingBackend } from "../../src/serving/local.ts";

const PYTHON = path.resolve(import.meta.dirname, "../../../gpu-runtime/.venv/bin/python");
const hasRuntime = existsSync(PYTHON);
if (!hasRuntime) console.warn(`skipping the local serving test: ${PYTHON} not found (run gpu-runtime/scripts/setup-venv.sh)`);

const t = useTestDb("rolloutlocal");
const queue = createPipelineQueue({ connection: { host: "127.0.0.1", port: 6379 }, prefix: `lpq-rl-${randomBytes(4).toString("hex")}` });
const root = mkdtempSync(path.join(os.tmpdir(), "lp-serve-"));
const backend = createLocalServingBackend({ python: PYTHON, dataDir: path.join(root, "data"), healthTimeoutMs: 120_000 });
let stopUrl: { url: string; externalId: string } | null = null;

afterAll(async () => {
  if (stopUrl) await backend.stop(stopUrl);
  await queue.runs.obliterate({ force: true });
  await queue.close();
});

const ADAPTER_PY = `
import sys, torch
from transformers import AutoModelForCausalLM
from peft import LoraConfig, get_peft_model
base, out, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
torch.manual_seed(seed)
m = get_peft_model(AutoModelForCausalLM.from_pretrained(base), LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM", init_lora_weights=False))
m.save_pretrained(out)
`;

// Built at collection time, before the test database exists, so the slow part does not hold a database open.
const model = path.join(root, "model");
if (hasRuntime) {
  execFileSync(PYTHON, ["-m", "loraplane_runtime.cli", "make-tiny-model", "--output", model, "--layers", "2", "--hidden", "64", "--heads", "2"], { stdio: "ignore" });
  for (const i of [1, 2]) execFileSync(PYTHON, ["-c", ADAPTER_PY, model, path.join(root, `adapter${i}`), String(i)], { stdio: "ignore" });
}

async function models(url: string): Promise<string[]> {
  const body = (await (await fetch(`${url}/v1/models`)).json()) as { data: { id: string }[] };
  return body.data.map((m) => m.id);
}

describe.skipIf(!hasRuntime)("rollout controller with local gpu-runtime serve", () => {
  it("brings the backend up, smoke-tests and promotes blue-green, reuses the process, unloads a rolled-back adapter", { timeout: 240_000 }, async () => {
    const project = await t.db.project.create({ data: { slug: "serve", name: "serve" }, select: { id: true } });
    const pipeline = await t.db.pipeline.create({ data: { projectId: project.id, name: "p", spec: {} }, select: { id: true } });
    const env = await t.db.environment.create({ data: { projectId: project.id, name: "dev", tier: "dev", namespace: "ns" }, select: { id: true } });
    const versions = [];
    for (const i of [1, 2]) {
      const run = await t.db.pipelineRun.create({ data: { projectId: project.id, pipelineId: pipeline.id, number: i, trigger: "api", specVersion: 1, resolvedSpec: {} }, select: { id: true } });
      const artifact = await t.db.artifact.create({ data: { runId: run.id, kind: "adapter", uri: `file://${path.join(root, `adapter${i}`)}` }, select: { id: true } });
      versions.push(await t.db.modelVersion.create({ data: { projectId: project.id, modelName: "tiny", version: i, runId: run.id, baseModel: model, adapterArtifactId: artifact.id, lineage: {} }, select: { id: true, runId: true } }));
    }
    const deps = { db: t.db, queue };
    const controller = createRolloutController({ deps, backends: { local: backend }, log: pino({ level: "silent" }), drainMs: 0 });

    // v1, blue-green: first tick starts serve and loads the adapter; the next smoke-tests with real completions.
    const bg = await startDeployment(deps, { runId: versions[0]!.runId, modelVersionId: versions[0]!.id, environmentId: env.id, endpointName: "tiny", strategy: "blue_green", policy: { blueGreen: { smokeRequests: 2, rollbackWindowSeconds: 1 } } });
    await controller.tick();
    const instance = await findServingInstance(t.db, env.id, model);
    expect(instance).toMatchObject({ kind: "local", status: "ready", adapters: ["tiny-v1"] });
    stopUrl = { url: instance!.url, externalId: instance!.externalId! };
    expect(await models(instance!.url)).toContain("tiny-v1");
    expect((await findDeploymentById(t.db, bg.deploymentId))!.state).toBe("progressing");
    await controller.tick();
    const smoke = await t.db.rolloutEvent.findFirst({ where: { deploymentId: bg.deploymentId, type: "smoke_test" }, select: { decision: true, reason: true } });
    expect(smoke).toMatchObject({ decision: "passed", reason: "2/2 completions from tiny-v1" });
    expect((await findDeploymentById(t.db, bg.deploymentId))!.variants[0]!.weightBps).toBe(10_000);
    await new Promise((r) => setTimeout(r, 1100));
    await controller.tick();
    expect((await findDeploymentById(t.db, bg.deploymentId))!.state).toBe("promoted");

    // v2, canary, from a fresh controller (a restarted worker): it re-attaches to the same process.
    const restarted = createRolloutController({ deps, backends: { local: backend }, log: pino({ level: "silent" }), drainMs: 0 });
    const canary = await startDeployment(deps, { runId: versions[1]!.runId, modelVersionId: versions[1]!.id, environmentId: env.id, endpointName: "tiny", strategy: "canary" });
    await restarted.tick();
    const again = await findServingInstance(t.db, env.id, model);
    expect(again!.externalId).toBe(instance!.externalId);
    expect(again!.adapters.sort()).toEqual(["tiny-v1", "tiny-v2"]);
    const d = await findDeploymentById(t.db, canary.deploymentId);
    expect(d!.variants.map((v) => [v.role, v.weightBps, v.upstreamUrl])).toEqual([["stable", 9500, instance!.url], ["canary", 500, instance!.url]]);

    await rollbackDeployment(deps, { deploymentId: canary.deploymentId, actor: { type: "system", userId: null }, reason: "test" });
    await restarted.tick();
    expect(await models(instance!.url)).not.toContain("tiny-v2");
    expect(await models(instance!.url)).toContain("tiny-v1");
    expect((await findServingInstance(t.db, env.id, model))!.adapters).toEqual(["tiny-v1"]);
  });
});
