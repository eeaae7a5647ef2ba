// The whole product, end to end, as separate real processes: the built web app (`next start`), the worker process
// (local executor, real gpu-runtime training/evaluation/serving of a tiny model) and the inference gateway, on a
// fresh database and a private queue prefix. Everything a user does goes through the REST API with Bearer tokens and
// through the gateway; every assertion is on what the API shows.
//
// Three runs are triggered at once so their training shares the machine's cores:
//   1. passes its gate → registered → waits for a human approval → canary under live traffic → promoted;
//   2. its gate threshold is out of reach → blocked with the failing metric as the reason, nothing registered;
//   3. passes its gate, but the serving backend gets injected latency → the canary breaches the SLO → rolled back.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiError, poll, PollAborted, startTraffic, type Api } from "./support/api.ts";
import { startStack, type TStack } from "./support/stack.ts";

const PORTS = { web: 22100, worker: 22101, gateway: 22102 };
const ENDPOINT = "e2e-assistant";
const MODEL_NAME = "e2e-assistant";
const COMMIT = "0e2e0c0ffee1";
const TERMINAL = ["succeeded", "failed", "blocked", "cancelled"];

interface TStage {
  stage: string;
  status: string;
  error: string | null;
  attempt: number;
}
interface TRun {
  id: string;
  number: number;
  status: string;
  error: string | null;
  currentStage: string | null;
  requestedById: string | null;
  gitCommit: string | null;
  stages: TStage[];
}
interface TVariant {
  role: string;
  weightBps: number;
  modelVersionId: string;
  upstreamUrl: string;
  servedModelName: string;
  status: string;
}
interface TDeployment {
  id: string;
  state: string;
  reason: string | null;
  runId: string | null;
  currentStep: number;
  variants: TVariant[];
}
interface TEvent {
  type: string;
  reason: string | null;
  weights: Record<string, number> | null;
}
interface TApproval {
  id: string;
  subjectType: string;
  subjectId: string;
  status: string;
  decidedById: string | null;
}

function pipelineSpec(name: string, baseModel: string, o: { steps: number; thresholds: unknown[]; slo: { p99LatencyMs: number; ttftP95Ms: number; maxErrorRate: number } }) {
  return {
    apiVersion: "loraplane/v1",
    name,
    model: { name: MODEL_NAME, baseModel },
    dataset: { name: "e2e-data", version: "v1", format: "alpaca" },
    training: { learningRate: 1e-3, batchSize: 32, maxSteps: o.steps, maxSeqLength: 96, logEverySteps: 25, checkpointEverySteps: 100, precision: "fp32", lora: { r: 16, alpha: 32, dropout: 0.05 } },
    resources: { gpus: 0 },
    eval: { split: "test", maxSamples: 24, maxNewTokens: 16, batchSize: 24, metrics: ["rouge_l", "bleu", "exact_match", "f1", "safety"], thresholds: o.thresholds },
    deploy: {
      endpointName: ENDPOINT,
      environments: ["prod"],
      strategy: "canary",
      canary: { steps: [5000, 10_000], analysisWindowSeconds: 8, minRequests: 10 },
      slo: o.slo,
      autoPromote: true,
    },
    timeouts: { trainSeconds: 600, evalSeconds: 300 },
  };
}

let stack: TStack | undefined;
let engineer: Api;
let approver: Api;
let ids: { projectId: string; engineerId: string; approverId: string; passPipeline: string; gatePipeline: string; latencyPipeline: string };
let runs: { pass: string; gate: string; latency: string };
let traffic: ReturnType<typeof startTraffic> | undefined;
let prompts: string[] = [];

const explain = () => stack?.procs.tail(40, /error|fail|warn|Error|Traceback/) ?? "";

async function getRun(id: string): Promise<TRun> {
  return engineer.get<TRun>(`/api/v1/runs/${id}`);
}

async function waitForRun(id: string, accept: (r: TRun) => boolean, what: string, timeoutMs: number): Promise<TRun> {
  return poll(what, timeoutMs, async () => {
    const r = await getRun(id);
    if (accept(r)) return r;
    if (TERMINAL.includes(r.status)) throw new PollAborted(`run #${r.number} ended ${r.status}: ${r.error ?? ""}`);
    return null;
  }, 1_000, explain).catch(async (error: unknown) => {
    const r = await getRun(id).catch(() => null);
    throw new Error(`${(error as Error).message}\nrun: ${JSON.stringify(r, null, 1)?.slice(0, 3000)}`);
  });
}

async function deploymentOfRun(runId: string): Promise<{ id: string; state: string; runId: string | null } | null> {
  const { items } = await engineer.get<{ items: { id: string; state: string; runId: string | null }[] }>(`/api/v1/projects/${ids.projectId}/deployments`);
  return items.find((d) => d.runId === runId) ?? null;
}

async function deploymentDetail(id: string): Promise<{ deployment: TDeployment; events: TEvent[] }> {
  return engineer.get<{ deployment: TDeployment; events: TEvent[] }>(`/api/v1/deployments/${id}`);
}

async function pendingApprovalFor(runId: string): Promise<TApproval> {
  return poll(`an approval request for run ${runId}`, 30_000, async () => {
    const { items } = await engineer.get<{ items: TApproval[] }>(`/api/v1/approvals?projectId=${ids.projectId}&status=pending`);
    return items.find((a) => a.subjectId === runId) ?? null;
  });
}

beforeAll(async () => {
  // What an admin does once (users, project, members, the prod environment, tokens), the engineer's dataset version,
  // and the three processes.
  stack = await startStack({
    name: "e2e",
    slug: "e2e",
    ports: PORTS,
    environments: [{ name: "prod", tier: "prod", requiresApproval: true }],
    dataset: { name: "e2e-data", train: 2000, validation: 32, test: 32 },
    workerConcurrency: 4,
  });
  ({ engineer, approver } = stack);
  const { projectId, modelDir } = stack;
  prompts = stack.testRows.map((r) => `${r.instruction}${r.input ? `\n${r.input}` : ""}`);

  // The engineer's side, all through the REST API: create pipelines, trigger.
  const lenient = { p99LatencyMs: 10_000, ttftP95Ms: 10_000, maxErrorRate: 0.05 };
  // A few hundred CPU steps move the loss but not yet exact match (that takes ~1500 steps): the passing gate checks
  // the safety screen of the real generations, with BLEU reported against an advisory threshold.
  const passes = [
    { metric: "safety_pass_rate", comparator: ">=", value: 0.9 },
    { metric: "bleu", comparator: ">=", value: 0.01, blocking: false },
  ];
  const create = (spec: unknown) => engineer.post<{ id: string }>(`/api/v1/projects/${projectId}/pipelines`, { spec });
  const [pass, gate, latency] = await Promise.all([
    create(pipelineSpec("e2e-pass", modelDir, { steps: 200, thresholds: passes, slo: lenient })),
    create(pipelineSpec("e2e-gate", modelDir, { steps: 100, thresholds: [{ metric: "exact_match", comparator: ">=", value: 0.99 }], slo: lenient })),
    create(pipelineSpec("e2e-latency", modelDir, { steps: 200, thresholds: passes, slo: { p99LatencyMs: 1_500, ttftP95Ms: 1_000, maxErrorRate: 0.05 } })),
  ]);
  ids = { projectId, engineerId: stack.users.engineerId, approverId: stack.users.approverId, passPipeline: pass.id, gatePipeline: gate.id, latencyPipeline: latency.id };

  const trigger = (pipelineId: string, key: string) =>
    engineer.request<{ run: { id: string }; created: boolean }>("POST", `/api/v1/pipelines/${pipelineId}/runs`, { gitCommit: COMMIT, gitRef: "refs/heads/main" }, { "idempotency-key": key });
  const [r1, r2, r3] = await Promise.all([trigger(pass.id, "e2e-pass-1"), trigger(gate.id, "e2e-gate-1"), trigger(latency.id, "e2e-latency-1")]);
  expect([r1.status, r2.status, r3.status]).toEqual([201, 201, 201]);
  // A CI job retrying its trigger with the same key gets the same run back, not a second one.
  const again = await trigger(pass.id, "e2e-pass-1");
  expect(again.status).toBe(200);
  expect(again.body.run.id).toBe(r1.body.run.id);
  runs = { pass: r1.body.run.id, gate: r2.body.run.id, latency: r3.body.run.id };
}, 240_000);

afterAll(async () => {
  await traffic?.stop().catch(() => undefined);
  await stack?.stop();
}, 120_000);

describe("pipeline end to end on the local executor", () => {
  it("trains, evaluates, passes the gate, registers, waits for approval, canaries under traffic and is promoted", async () => {
    const waiting = await waitForRun(runs.pass, (r) => r.status === "waiting_approval", "run 1 to wait for approval", 300_000);
    const stage = (r: TRun, name: string) => r.stages.filter((s) => s.stage === name).at(-1);
    for (const name of ["prepare", "train", "eval", "gate", "register"]) expect(stage(waiting, name)?.status, name).toBe("succeeded");
    expect(stage(waiting, "approve")?.status).toBe("waiting");
    expect(waiting.requestedById).toBe(ids.engineerId);

    // Real training: the loss went down and the evaluation produced every metric, judged against the threshold.
    const metrics = await engineer.get<{ series: { key: string; points: { step: number; value: number }[] }[] }>(`/api/v1/runs/${runs.pass}/metrics?keys=train/loss`);
    const loss = metrics.series.find((s) => s.key === "train/loss")?.points ?? [];
    expect(loss.length).toBeGreaterThanOrEqual(5);
    expect(loss.at(-1)!.value).toBeLessThan(loss[0]!.value);
    const evalResult = await engineer.get<{ results: { metric: string; value: number; passed: boolean | null; threshold: number | null }[]; gate: { passed: boolean | null; reasons: string[] } }>(`/api/v1/runs/${runs.pass}/eval`);
    expect(evalResult.gate).toEqual({ passed: true, reasons: [] });
    for (const m of ["rouge_l", "bleu", "exact_match", "f1"]) {
      const r = evalResult.results.find((x) => x.metric === m);
      expect(r, m).toBeDefined();
      expect(r!.value).toBeGreaterThanOrEqual(0);
      expect(r!.value).toBeLessThanOrEqual(1);
    }
    expect(evalResult.results.find((x) => x.metric === "safety_pass_rate")).toMatchObject({ threshold: 0.9, passed: true });

    // The registered version carries its lineage: run, commit, dataset digest, hyperparameters, eval results.
    const lineage = await engineer.get<{ run: { gitCommit: string; datasetVersionId: string }; modelVersions: Record<string, unknown>[] }>(`/api/v1/runs/${runs.pass}/lineage`);
    expect(lineage.run.gitCommit).toBe(COMMIT);
    expect(lineage.modelVersions).toHaveLength(1);
    const lineageText = JSON.stringify(lineage.modelVersions[0]);
    expect(lineageText).toContain(runs.pass);
    expect(lineageText).toContain(COMMIT);
    expect(lineageText).toContain("safety_pass_rate");
    const versionId = (lineage.modelVersions[0] as { id: string }).id;
    const registered = await engineer.get<{ runId: string; modelName: string; gitCommit: string | null; datasetVersionId: string | null; adapterArtifactId: string | null }>(`/api/v1/model-versions/${versionId}`);
    expect(registered).toMatchObject({ runId: runs.pass, modelName: MODEL_NAME, gitCommit: COMMIT, datasetVersionId: lineage.run.datasetVersionId });
    expect(registered.adapterArtifactId).toBeTruthy();

    // The approval: the engineer who triggered the run may not approve it; the approver does.
    const approval = await pendingApprovalFor(runs.pass);
    const denied = await engineer.post(`/api/v1/approvals/${approval.id}/approve`, { comment: "self-approve" }).catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(ApiError);
    expect((denied as ApiError).status).toBe(403);
    traffic = startTraffic({ gatewayUrl: stack!.gateway, token: stack!.gatewayToken, model: ENDPOINT, concurrency: 6, prompts });
    await approver.post(`/api/v1/approvals/${approval.id}/approve`, { comment: "looks good" });

    const deployment = await poll("run 1's deployment", 60_000, () => deploymentOfRun(runs.pass), 1_000, explain);
    const promoted = await poll(
      "run 1's canary to be promoted",
      180_000,
      async () => {
        const d = await deploymentDetail(deployment.id);
        if (["rolled_back", "failed"].includes(d.deployment.state)) throw new PollAborted(`deployment ${d.deployment.state}: ${d.deployment.reason}`);
        return d.deployment.state === "promoted" ? d : null;
      },
      1_000,
      () => `traffic: ${JSON.stringify({ ...traffic!.stats, byVersion: [...traffic!.stats.byVersion] })}\n${explain()}`,
    );
    const types = promoted.events.map((e) => e.type);
    expect(types[0]).toBe("created");
    expect(types).toContain("step");
    expect(types).toContain("promote");
    const promotedEvent = promoted.events.find((e) => e.type === "promote")!;
    expect(promotedEvent.reason).toMatch(/healthy/);
    const canary = promoted.deployment.variants.find((v) => v.role === "canary")!;
    expect(canary).toMatchObject({ modelVersionId: versionId, weightBps: 10_000 });
    // The canary walked its steps: 50% first, then all traffic.
    const weights = promoted.events.map((e) => e.weights?.canary).filter((w): w is number => typeof w === "number");
    expect(weights).toContain(5_000);
    expect(weights.at(-1)).toBe(10_000);

    const done = await waitForRun(runs.pass, (r) => r.status === "succeeded", "run 1 to succeed", 60_000);
    expect(stage(done, "rollout")?.status).toBe("succeeded");
    // Real requests reached the new version through the gateway.
    expect(traffic.stats.byVersion.get(canary.modelVersionId) ?? 0).toBeGreaterThanOrEqual(10);
  });

  it("blocks a run whose gate threshold is out of reach, with the failing metric as the reason", async () => {
    const blocked = await waitForRun(runs.gate, (r) => r.status === "blocked", "run 2 to be blocked", 300_000);
    expect(blocked.error).toMatch(/exact_match/);
    const gate = blocked.stages.filter((s) => s.stage === "gate").at(-1);
    expect(gate?.status).toBe("failed");
    expect(gate?.error).toMatch(/exact_match/);
    expect(blocked.stages.some((s) => s.stage === "register")).toBe(false);
    const evalResult = await engineer.get<{ gate: { passed: boolean | null; reasons: string[] } }>(`/api/v1/runs/${runs.gate}/eval`);
    expect(evalResult.gate.passed).toBe(false);
    expect(evalResult.gate.reasons.join(" ")).toMatch(/exact_match/);
    const lineage = await engineer.get<{ modelVersions: unknown[] }>(`/api/v1/runs/${runs.gate}/lineage`);
    expect(lineage.modelVersions).toHaveLength(0);
  });

  it("rolls a canary back automatically when injected latency breaches the SLO", async () => {
    const waiting = await waitForRun(runs.latency, (r) => r.status === "waiting_approval", "run 3 to wait for approval", 300_000);
    expect(waiting.stages.filter((s) => s.stage === "gate").at(-1)?.status).toBe("succeeded");

    // The base model's serving process (shared by every adapter on it) gets 2.5 s before each first token.
    const stable = await deploymentDetail((await deploymentOfRun(runs.pass))!.id);
    const upstream = stable.deployment.variants.find((v) => v.role === "canary")!.upstreamUrl;
    const injected = await fetch(`${upstream}/admin/faults`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ latencyMs: 2_500 }) });
    expect(injected.ok).toBe(true);
    try {
      const approval = await pendingApprovalFor(runs.latency);
      await approver.post(`/api/v1/approvals/${approval.id}/approve`, { comment: "ship it" });
      const deployment = await poll("run 3's deployment", 60_000, () => deploymentOfRun(runs.latency), 1_000, explain);
      const rolledBack = await poll(
        "run 3's canary to be rolled back",
        180_000,
        async () => {
          const d = await deploymentDetail(deployment.id);
          if (d.deployment.state === "promoted") throw new PollAborted(`the slow canary was promoted: ${JSON.stringify(d.events.map((e) => [e.type, e.reason]))}`);
          return d.deployment.state === "rolled_back" ? d : null;
        },
        1_000,
        () => `traffic: ${JSON.stringify({ ...traffic?.stats, byVersion: [...(traffic?.stats.byVersion ?? [])] })}\n${explain()}`,
      );
      const rollback = rolledBack.events.find((e) => e.type === "rollback");
      expect(rollback, JSON.stringify(rolledBack.events)).toBeDefined();
      expect(rollback!.reason).toMatch(/SLO breach/);
      expect(rollback!.reason).toMatch(/p99_latency_ms|ttft_p95_ms/);
      const variants = rolledBack.deployment.variants;
      expect(variants.find((v) => v.role === "stable")?.weightBps).toBe(10_000);
      expect(variants.find((v) => v.role === "canary")?.weightBps).toBe(0);

      const failed = await waitForRun(runs.latency, (r) => r.status === "failed", "run 3 to fail", 60_000);
      expect(failed.error).toMatch(/rolled_back/);
    } finally {
      await fetch(`${upstream}/admin/faults`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ latencyMs: 0 }) }).catch(() => undefined);
    }
  });
});
