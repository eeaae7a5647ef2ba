// Issue 11 findings 10 and 12 on the local serving backend: with SERVING_API_KEY set, the local gpu-runtime `serve`
// requires it on every /v1 call and the workers send it when they load adapters; `serve` starts with a minimal
// environment (never the worker's NEXTAUTH_SECRET, LORAPLANE_SECRET_KEY, DATABASE_URL or REDIS_URL).
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { workloadEnvironment } from "@loraplane/config";
import { afterAll, describe, expect, it } from "vitest";
import { createLocalServingBackend, pidOf } from "../../src/serving/local.ts";

const PYTHON = path.resolve(import.meta.dirname, "../../../gpu-runtime/.venv/bin/python");
const hasRuntime = existsSync(PYTHON);
const KEY = "local-serving-key-0123456789abcdef01234";
const root = mkdtempSync(path.join(os.tmpdir(), "lp-serve-auth-"));
const model = path.join(root, "model");
const adapter = path.join(root, "adapter");
if (hasRuntime) {
  execFileSync(PYTHON, ["-m", "loraplane_runtime.cli", "make-tiny-model", "--output", model, "--layers", "2", "--hidden", "64", "--heads", "2"], { stdio: "ignore" });
  execFileSync(PYTHON, ["-c", `
import sys, torch
from transformers import AutoModelForCausalLM
from peft import LoraConfig, get_peft_model
m = get_peft_model(AutoModelForCausalLM.from_pretrained(sys.argv[1]), LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj"], task_type="CAUSAL_LM"))
m.save_pretrained(sys.argv[2])
`, model, adapter], { stdio: "ignore" });
}

const SECRETS = { NEXTAUTH_SECRET: "nextauth-secret-value", LORAPLANE_SECRET_KEY: "secret-key-value", DATABASE_URL: "postgresql://u:dbpass@127.0.0.1/x", REDIS_URL: "redis://:redispass@127.0.0.1:6379" };
const saved = Object.fromEntries(Object.keys(SECRETS).map((k) => [k, process.env[k]]));
Object.assign(process.env, SECRETS);
const backend = createLocalServingBackend({ python: PYTHON, dataDir: path.join(root, "data"), healthTimeoutMs: 120_000, apiKey: KEY, baseEnv: () => workloadEnvironment() });
let instance: { url: string; externalId: string } | null = null;

afterAll(async () => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  if (instance) await backend.stop(instance);
});

describe.skipIf(!hasRuntime)("local serve behind SERVING_API_KEY", () => {
  it("refuses calls without the key, accepts the workers' adapter load with it, and has no control-plane secrets", { timeout: 180_000 }, async () => {
    instance = await backend.ensure({ environmentId: "env-auth", namespace: "ns", baseModel: model }, null);
    expect((await fetch(`${instance.url}/v1/models`)).status).toBe(401);
    expect((await fetch(`${instance.url}/v1/models`, { headers: { authorization: "Bearer wrong-key" } })).status).toBe(401);
    const unauthLoad = await fetch(`${instance.url}/v1/load_lora_adapter`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ lora_name: "planted", lora_path: adapter }) });
    expect(unauthLoad.status).toBe(401);
    await backend.loadAdapter(instance, "tiny-v1", `file://${adapter}`, null);
    const models = (await (await fetch(`${instance.url}/v1/models`, { headers: { authorization: `Bearer ${KEY}` } })).json()) as { data: { id: string }[] };
    expect(models.data.map((m) => m.id)).toContain("tiny-v1");
    expect(models.data.map((m) => m.id)).not.toContain("planted");

    const environ = readFileSync(`/proc/${pidOf(instance)}/environ`, "utf8").split("\0");
    const names = environ.map((l) => l.slice(0, l.indexOf("=")));
    for (const name of Object.keys(SECRETS)) expect(names, name).not.toContain(name);
    expect(environ).toContain(`LORAPLANE_SERVE_API_KEY=${KEY}`);
    expect(names).toContain("PATH");
  });
});
