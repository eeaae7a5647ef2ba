// Shadow evaluation end to end with real processes (next start, the worker with real gpu-runtime training, evaluation
// and serving of a tiny model, the gateway): version 1 goes live; version 2 — the same training, so the same answers —
// is mirrored to in the shadow phase, passes the shadow gate, canaries and is promoted; version 3 — trained far
// harder, so it answers differently (mostly not at all) — is stopped at the shadow gate, and the serving process's own
// counters show it answered the gateway's mirrored copies and not a single client request.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { poll, PollAborted, type Api } from "./support/api.ts";
import { startStack, tinyPipelineSpec, type TStack } from "./support/stack.ts";

const PORTS = { web: 22300, worker: 22301, gateway: 22302 };
const ENDPOINT = "shadow-assistant";
const SLUG = "shadow-e2e";

interface TVariant {
  role: string;
  modelVersionId: string;
  weightBps: number;
}
/** A variant as GET /api/v1/deployments/{id} shows it: where it is served and under which model name. */
interface TServedVariant extends TVariant {
  upstreamUrl: string;
  servedModelName: string;
}
interface TRelease {
  id: string;
  state: string;
  modelVersion: { id: string };
  stages: { state: string; reason: string | null; deployment: { id: string; state: string; reason: string | null; variants: TVariant[] } | null }[];
}
interface TShadow {
  summary: { samples: number; agreement: number | null; exactMatchRate: number | null; stableMeanChars: number | null; candidateMeanChars: number | null };
  gate: { decision: "passed" | "failed"; reason: string } | null;
  disagreements: { stableText: string; candidateText: string | null; candidateError: string | null; rougeL: number }[];
}

let stack: TStack | undefined;
let engineer: Api;
let pipelineId = "";
const explain = () => stack?.procs.tail(40, /error|fail|warn|Error|Traceback|shadow|rollout/) ?? "";

/**
 * Client traffic to the endpoint from the start (the first version's canary needs it): which versions answered
 * (x-loraplane-model-version), and failures once the endpoint first answered (before that it does not exist yet).
 */
class Traffic {
  byVersion = new Map<string, number>();
  failures = 0;
  private live = false;
  lastError: string | null = null;
  private running = true;
  private readonly lanes: Promise<void>[];
  constructor(prompts: string[], concurrency: number) {
    this.lanes = Array.from({ length: concurrency }, async (_, lane) => {
      for (let i = lane; this.running; i++) {
        try {
          const res = await fetch(`${stack!.gateway}/${SLUG}/dev/v1/completions`, {
            method: "POST",
            headers: { authorization: `Bearer ${stack!.gatewayToken}`, "content-type": "application/json" },
            body: JSON.stringify({ model: ENDPOINT, prompt: prompts[i % prompts.length], max_tokens: 8, temperature: 0 }),
            signal: AbortSignal.timeout(30_000),
          });
          const text = await res.text();
          if (!res.ok) throw new Error(`HTTP ${res.status}: ${text.slice(0, 200)}`);
          const v = res.headers.get("x-loraplane-model-version") ?? "unknown";
          this.byVersion.set(v, (this.byVersion.get(v) ?? 0) + 1);
          this.live = true;
        } catch (error) {
          if (this.live) this.failures++;
          this.lastError = (error as Error).message;
          await new Promise((r) => setTimeout(r, 300));
        }
      }
    });
  }
  async stop() {
    this.running = false;
    await Promise.all(this.lanes);
  }
  summary = () => JSON.stringify({ byVersion: [...this.byVersion], failures: this.failures, lastError: this.lastError });
}
let traffic: Traffic | undefined;

function spec(modelDir: string) {
  return tinyPipelineSpec({
    name: "shadow-e2e",
    modelDir,
    modelName: "shadow-model",
    datasetName: "shadow-data",
    deploy: {
      endpointName: ENDPOINT,
      environments: ["dev"],
      strategy: "canary",
      canary: { steps: [5000, 10_000], analysisWindowSeconds: 3, minRequests: 4 },
      slo: { p99LatencyMs: 10_000, ttftP95Ms: 5_000, maxErrorRate: 0.05, vsStable: { maxP99Ratio: 4, minP99DiffMs: 1_000 } },
      // Every answered client request is copied to the candidate; 12 pairs decide.
      shadow: { fraction: 1, minSamples: 12, minAgreement: 0.6, maxDurationSeconds: 240 },
      autoPromote: true,
    },
  });
}

async function trigger(params?: Record<string, number>): Promise<TRelease> {
  const { run } = await engineer.post<{ run: { id: string } }>(`/api/v1/pipelines/${pipelineId}/runs`, params ? { params } : {});
  return poll(`the release of run ${run.id}`, 300_000, async () => {
    const { items } = await engineer.get<{ items: (TRelease & { runId: string })[] }>(`/api/v1/projects/${stack!.projectId}/releases`);
    return items.find((r) => r.runId === run.id) ?? null;
  }, 2_000, explain);
}

async function waitRelease(id: string, want: string, what: string, timeoutMs = 300_000): Promise<TRelease> {
  return poll(what, timeoutMs, async () => {
    const r = await engineer.get<TRelease>(`/api/v1/releases/${id}`);
    if (r.state === want) return r;
    if (["failed", "succeeded"].includes(r.state)) throw new PollAborted(`the release ${r.state}: ${r.stages[0]!.reason}`);
    return null;
  }, 1_000, () => `traffic: ${traffic?.summary()}\n${explain()}`);
}

const deploymentOf = (id: string) => engineer.get<{ deployment: { variants: TServedVariant[] }; shadow: TShadow | null }>(`/api/v1/deployments/${id}`);
const shadowOf = (id: string) => deploymentOf(id).then((r) => r.shadow);

/** A Prometheus counter's value from a text exposition, for the series whose labels include all of `labels`. */
async function counter(url: string, name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(url)).text();
  let total = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`)) continue;
    const [series, value] = [line.slice(0, line.lastIndexOf(" ")), line.slice(line.lastIndexOf(" ") + 1)];
    if (Object.entries(labels).every(([k, v]) => series.includes(`${k}="${v}"`))) total += Number(value);
  }
  return total;
}

beforeAll(async () => {
  stack = await startStack({
    name: "shadow-e2e",
    slug: SLUG,
    ports: PORTS,
    environments: [{ name: "dev", tier: "dev" }],
    dataset: { name: "shadow-data", train: 200, validation: 8, test: 16 },
    workerConcurrency: 2,
  });
  engineer = stack.engineer;
  pipelineId = (await engineer.post<{ id: string }>(`/api/v1/projects/${stack.projectId}/pipelines`, { spec: spec(stack.modelDir) })).id;
  traffic = new Traffic(stack.testRows.map((r) => r.instruction), 2);
}, 240_000);

afterAll(async () => {
  await traffic?.stop().catch(() => undefined);
  await stack?.stop();
}, 120_000);

describe("shadow evaluation before the canary", () => {
  it("a candidate answering like the stable passes the shadow gate, canaries and is promoted", async () => {
    await waitRelease((await trigger()).id, "succeeded", "version 1 to go live");

    const v2 = await trigger();
    const live = await waitRelease(v2.id, "succeeded", "version 2 to pass the shadow gate and be promoted");
    const deployment = live.stages[0]!.deployment!;
    expect(deployment.variants.find((v) => v.modelVersionId === v2.modelVersion.id)).toMatchObject({ weightBps: 10_000 });
    const shadow = (await shadowOf(deployment.id))!;
    expect(shadow.gate, JSON.stringify(shadow)).toMatchObject({ decision: "passed" });
    expect(shadow.summary.samples).toBeGreaterThanOrEqual(12);
    expect(shadow.summary.agreement!).toBeGreaterThanOrEqual(0.6);
    // They agree on answers with words in them, not on empty ones.
    expect(shadow.summary.stableMeanChars!).toBeGreaterThan(0);
    expect(shadow.summary.candidateMeanChars!).toBeGreaterThan(0);
    expect(traffic!.byVersion.get(v2.modelVersion.id) ?? 0, traffic!.summary()).toBeGreaterThan(0);
    console.info(`version 2: ${shadow.gate!.reason}; mean answer length ${shadow.summary.stableMeanChars} / ${shadow.summary.candidateMeanChars} chars`);
  });

  it("a candidate that disagrees on most mirrored requests is stopped at the shadow gate without serving a client", async () => {
    const before = new Map(traffic!.byVersion);
    const mirroredBefore = await counter(`${stack!.gateway}/metrics`, "loraplane_gateway_shadow_requests_total", { outcome: "answered" });
    // Twenty times the learning rate for over three times the steps: the adapter moves the model's answers far.
    const v3 = await trigger({ "training.learningRate": 0.02, "training.maxSteps": 40 });
    const stopped = await poll("version 3 to be stopped", 300_000, async () => {
      const r = await engineer.get<TRelease>(`/api/v1/releases/${v3.id}`);
      if (r.state === "succeeded") throw new PollAborted("version 3 was promoted");
      return r.state === "failed" ? r : null;
    }, 1_000, () => `traffic: ${traffic?.summary()}\n${explain()}`);
    const stage = stopped.stages[0]!;
    expect(stage.state).toBe("rolled_back");
    expect(stage.reason).toMatch(/shadow gate/);
    const deployment = stage.deployment!;
    const shadow = (await shadowOf(deployment.id))!;
    expect(shadow.gate, JSON.stringify(shadow)).toMatchObject({ decision: "failed" });
    expect(shadow.summary.agreement!).toBeLessThan(0.6);
    expect(shadow.disagreements.length).toBeGreaterThan(0);
    // The candidate answered (no errors: the gate judged what it said, not a failure) — little or nothing where the
    // stable answered in words: the over-trained adapter mostly ends its answer at once.
    const pair = shadow.disagreements[0]!;
    expect(pair.candidateError, JSON.stringify(pair)).toBeNull();
    expect(pair.stableText.trim(), JSON.stringify(pair)).not.toBe("");
    expect(shadow.summary.candidateMeanChars!).toBeLessThan(shadow.summary.stableMeanChars!);

    // The clients never got an answer from version 3 …
    expect(traffic!.byVersion.get(v3.modelVersion.id) ?? 0, traffic!.summary()).toBe(0);
    // … while version 2 kept answering them.
    const v2 = deployment.variants.find((v) => v.modelVersionId !== v3.modelVersion.id)!.modelVersionId;
    expect((traffic!.byVersion.get(v2) ?? 0) - (before.get(v2) ?? 0), traffic!.summary()).toBeGreaterThan(0);
    // … and the serving process's own count of version 3's finished requests equals the copies the gateway mirrored to
    // it (no other caller reaches it): answered copies only, not one client request.
    const candidate = (await deploymentOf(deployment.id)).deployment.variants.find((v) => v.modelVersionId === v3.modelVersion.id)!;
    const served = await poll("the serving process's count of version 3 to equal the gateway's mirrored copies", 30_000, async () => {
      const served = await counter(`${candidate.upstreamUrl}/metrics`, "vllm:request_success_total", { model_name: candidate.servedModelName });
      const mirrored = await counter(`${stack!.gateway}/metrics`, "loraplane_gateway_shadow_requests_total", { outcome: "answered" });
      return served > 0 && served === mirrored - mirroredBefore ? served : null;
    }, 1_000, () => `traffic: ${traffic?.summary()}`);
    expect(traffic!.failures, traffic!.summary()).toBe(0);
    console.info(`version 3: ${stage.reason}; mean answer length ${shadow.summary.stableMeanChars} / ${shadow.summary.candidateMeanChars} chars; its serving process answered ${served} requests, all mirrored copies; clients: ${traffic!.summary()}`);
  });
});
