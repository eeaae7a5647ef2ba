// The pipeline engine on the kubernetes executor, end to end against the fake API server, real Postgres and Redis:
// the worker writes job.json to the shared artifacts volume and creates Jobs; a simulated kubelet (this test) reads
// that job.json, heartbeats through the ingest service (what POST /api/v1/ingest/runs/:id/heartbeat calls), writes
// the eval report to the volume and finishes the pod with the runtime's result line. No stdout events reach the
// worker, so the stage only survives the short heartbeat timeout through the remote heartbeats.
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { useTestDb } from "@loraplane/db/testing";
import { authenticateRunToken, cancelRun, ingestMetricPoints, recordArtifacts, recordHeartbeat, triggerRun } from "@loraplane/services";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createKubernetesExecutor, type TKubernetesExecutor } from "../../src/executors/kubernetes/kubernetes-executor.ts";
import { startWorkerApp, type TWorkerApp } from "../../src/worker-app.ts";
import { FakeKubeApi, type TKubeObject } from "../helpers/fake-kube-api.ts";
import { makeDataDirs, seedProject, waitFor } from "../helpers/fixtures.ts";
import { jobOptions } from "./fixtures.ts";

const t = useTestDb("k8s-pipeline");
const NS = "loraplane-jobs";
const prefix = `lpq-k8s-${randomBytes(4).toString("hex")}`;
const api = new FakeKubeApi();
let artifactsDir: string;
let dataDir: string;
let datasetTemplate: string;
let executor: TKubernetesExecutor;
let app: TWorkerApp;
let kubelet: NodeJS.Timeout;
const handled = new Set<string>();
const jobJsons = new Map<string, { runId: string; stage: string; paths: Record<string, string>; spec: { name: string } }>();

/** What the simulated workload does, chosen by the pipeline name in the spec it was given. */
async function runWorkload(job: TKubeObject): Promise<void> {
  const name = job.metadata.name!;
  const labels = job.metadata.labels!;
  const runId = labels["loraplane.dev/run-id"]!;
  const stage = labels["loraplane.dev/stage"]!;
  const attempt = labels["loraplane.dev/attempt"]!;
  const dir = path.join(artifactsDir, runId, `${stage}-${attempt}`);
  const config = JSON.parse(await readFile(path.join(dir, "job.json"), "utf8")) as typeof jobJsons extends Map<string, infer V> ? V : never;
  jobJsons.set(name, config);
  const pod = `${name}-abcde`;
  api.create("", "pods", { metadata: { name: pod, namespace: NS, labels: (job.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels }, status: { phase: "Running" } });

  // Like the kubelet, the container starts once the run Secret exists; the runtime authenticates with its token.
  let token: string | undefined;
  while (!token) {
    token = (api.get("", "secrets", NS, `${name}-env`)?.stringData as Record<string, string> | undefined)?.LORAPLANE_RUN_TOKEN;
    if (!token) await new Promise((r) => setTimeout(r, 20));
  }
  const claims = await authenticateRunToken(t.db, runId, token);
  expect(claims).toMatchObject({ runId, stage, attempt: Number(attempt) });
  const behaviour = config.spec.name;
  // Longer than the worker's heartbeat timeout (1 s): only the remote heartbeats keep the stage alive.
  const runMs = behaviour === "k8s-hang" ? 60_000 : 1600;
  const started = Date.now();
  while (Date.now() - started < runMs) {
    if (!api.get("batch", "jobs", NS, name)) return; // cancelled: the Job (and its pod) are gone
    await recordHeartbeat(t.db, claims, { stage, step: 1, totalSteps: 2, progress: 0.5 }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 250));
  }
  let exitCode = 0;
  let log: string;
  if (behaviour === "k8s-bad-data") {
    exitCode = 3;
    log = "[loraplane-runtime] reading data\nloraplane-runtime: error: /data/demo/v1/train.jsonl:3: row has no output\n";
  } else if (stage === "train") {
    await ingestMetricPoints(t.db, runId, [{ key: "train/loss", step: 1, value: 0.9 }, { key: "train/loss", step: 2, value: 0.5 }]);
    // The adapter lands on the shared volume with gpu-runtime's manifest; its digest is the manifest's sha256.
    const adapterDir = path.join(dir, "output", "adapter");
    await mkdir(adapterDir, { recursive: true });
    const weights = "weights";
    await writeFile(path.join(adapterDir, "adapter_model.safetensors"), weights);
    const manifest = JSON.stringify({ files: [{ path: "adapter_model.safetensors", sha256: createHash("sha256").update(weights).digest("hex"), size: weights.length }] });
    await writeFile(path.join(adapterDir, "manifest.json"), manifest);
    const uri = `file://${config.paths.outputDir}/adapter`;
    await recordArtifacts(t.db, claims, { artifacts: [{ kind: "adapter", uri, sha256: createHash("sha256").update(manifest).digest("hex"), sizeBytes: weights.length }] });
    log = `[loraplane-runtime] step 2/2\n${JSON.stringify({ event: "result", stage: "train", adapterDir: `${config.paths.outputDir}/adapter`, finalLoss: 0.5, steps: 2 })}\n`;
  } else {
    await mkdir(path.join(dir, "output"), { recursive: true });
    const report = { metrics: { rouge_l: 0.62, exact_match: 0.5 }, split: "test", samples: [{ prompt: "q", reference: "a", prediction: "a", scores: { exact_match: 1 } }] };
    await writeFile(path.join(dir, "output", "eval_report.json"), JSON.stringify(report));
    log = `${JSON.stringify({ event: "result", stage: "eval", metrics: report.metrics, report: `${config.paths.outputDir}/eval_report.json` })}\n`;
  }
  if (!api.get("batch", "jobs", NS, name)) return;
  api.setPodLog(NS, pod, log);
  api.update("", "pods", NS, pod, (o) => {
    o.status = { phase: exitCode ? "Failed" : "Succeeded", containerStatuses: [{ name: "runtime", state: { terminated: { exitCode, finishedAt: new Date().toISOString() } } }] };
  });
  api.update("batch", "jobs", NS, name, (o) => {
    const now = new Date().toISOString();
    o.status = exitCode
      ? { failed: 1, conditions: [{ type: "Failed", status: "True", reason: "PodFailurePolicy", message: "Container runtime for pod failed with exit code 3 matching FailJob rule at index 0", lastTransitionTime: now }] }
      : { succeeded: 1, completionTime: now, conditions: [{ type: "Complete", status: "True", lastTransitionTime: now }] };
  });
}

beforeAll(async () => {
  await api.start(21_101);
  artifactsDir = await mkdtemp(path.join(tmpdir(), "lp-k8s-runs-"));
  // The worker's read-only mount of the data volume, where prepare verifies dataset digests.
  dataDir = await mkdtemp(path.join(tmpdir(), "lp-k8s-data-"));
  datasetTemplate = makeDataDirs().datasetTemplate;
  const kc = new KubeConfig();
  kc.loadFromOptions(api.kubeconfig(NS));
  executor = createKubernetesExecutor({ ...jobOptions({ namespace: NS }), kubeConfig: kc, artifactsDir, dataDir, watchRetryDelayMs: 50 });
  app = await startWorkerApp({
    db: t.db,
    redisUrl: "redis://127.0.0.1:6379",
    prefix,
    executor,
    log: pino({ level: "silent" }),
    concurrency: 4,
    reconcileIntervalMs: 1000,
    engine: { pollMs: 50, heartbeatTimeoutS: 1, logTailLines: 5, runTokenTtlS: 3600, publicUrl: "http://loraplane-web.loraplane:3000" },
  });
  kubelet = setInterval(() => {
    for (const job of api.list("batch", "jobs", NS)) {
      if (handled.has(job.metadata.uid!)) continue;
      handled.add(job.metadata.uid!);
      void runWorkload(job).catch((error: unknown) => console.error(error));
    }
  }, 50);
});
afterAll(async () => {
  clearInterval(kubelet);
  await app.stop();
  executor.close();
  await app.queue.stages.obliterate({ force: true }).catch(() => undefined);
  await api.stop();
  await rm(artifactsDir, { recursive: true, force: true });
  await rm(dataDir, { recursive: true, force: true });
});

const deps = () => ({ db: t.db, queue: app.queue });
const finished = (runId: string) =>
  waitFor(async () => {
    const r = await t.db.pipelineRun.findUniqueOrThrow({ where: { id: runId }, select: { status: true, error: true } });
    return ["succeeded", "failed", "blocked", "cancelled"].includes(r.status) ? r : null;
  }, 30_000, `run ${runId} to finish`);
const seed = (name: string) => seedProject(t.db, { datasetTemplate, dataRoot: "/data", hostDataRoot: dataDir, modelDir: "/models/tiny" }, { name });
const jobsOf = (runId: string) => api.list("batch", "jobs", NS, `loraplane.dev/run-id=${runId}`);

describe("pipeline engine on the kubernetes executor", () => {
  it("runs train and eval as Jobs that report over HTTP, then gates and registers", async () => {
    const s = await seed("k8s-ok");
    const { run } = await triggerRun(deps(), { projectId: s.projectId, pipelineId: s.pipelineId, trigger: "api" });
    expect(await finished(run.id)).toEqual({ status: "succeeded", error: null });

    const stages = await t.db.stageRun.findMany({ where: { runId: run.id }, select: { stage: true, status: true, executor: true, externalId: true, exitCode: true, heartbeatAt: true }, orderBy: { createdAt: "asc" } });
    expect(stages.map((x) => `${x.stage}:${x.status}`)).toEqual(["prepare:succeeded", "train:succeeded", "eval:succeeded", "gate:succeeded", "register:succeeded"]);
    const train = stages.find((x) => x.stage === "train")!;
    expect(train).toMatchObject({ executor: "kubernetes", externalId: `${NS}/lp-${run.id}-train-1`, exitCode: 0 });
    expect(train.heartbeatAt).not.toBeNull();

    // Exactly one Job per stage attempt; each got its run token through a Secret, never inline.
    expect(jobsOf(run.id).map((j) => j.metadata.name).sort()).toEqual([`lp-${run.id}-eval-1`, `lp-${run.id}-train-1`]);
    for (const job of jobsOf(run.id)) {
      const env = (job.spec as { template: { spec: { containers: { env: { name: string; value?: string; valueFrom?: unknown }[] }[] } } }).template.spec.containers[0]!.env;
      expect(env.find((e) => e.name === "LORAPLANE_RUN_TOKEN")).toEqual({ name: "LORAPLANE_RUN_TOKEN", valueFrom: { secretKeyRef: { name: `${job.metadata.name}-env`, key: "LORAPLANE_RUN_TOKEN" } } });
      expect(env.find((e) => e.name === "LORAPLANE_URL")?.value).toBe("http://loraplane-web.loraplane:3000");
      const token = (api.get("", "secrets", NS, `${job.metadata.name}-env`)!.stringData as Record<string, string>).LORAPLANE_RUN_TOKEN!;
      expect(token).toMatch(/^lprt_/);
      expect(JSON.stringify(job)).not.toContain(token);
    }
    // The eval Job was given the adapter the train Job reported, as a path on the shared volume.
    expect(jobJsons.get(`lp-${run.id}-eval-1`)!.paths).toEqual({
      baseModel: "/models/tiny",
      dataDir: `/data/projects/${s.projectId}/datasets/demo/v1`,
      adapterDir: `/runs/${run.id}/train-1/output/adapter`,
      outputDir: `/runs/${run.id}/eval-1/output`,
    });
    const loss = await t.db.metricPoint.findMany({ where: { series: { runId: run.id, key: "train/loss" } }, select: { step: true, value: true }, orderBy: { step: "asc" } });
    expect(loss).toEqual([{ step: 1, value: 0.9 }, { step: 2, value: 0.5 }]);
    const evals = await t.db.evalResult.findMany({ where: { runId: run.id }, select: { metric: true, value: true }, orderBy: { metric: "asc" } });
    expect(evals).toEqual([{ metric: "exact_match", value: 0.5 }, { metric: "rouge_l", value: 0.62 }]);

    // Eval measured the adapter on the shared volume (its manifest digest) and registration took exactly that one.
    const adapter = await t.db.artifact.findFirstOrThrow({ where: { runId: run.id, kind: "adapter" }, select: { id: true, uri: true, sha256: true } });
    const evalStage = await t.db.stageRun.findFirstOrThrow({ where: { runId: run.id, stage: "eval" }, select: { result: true } });
    expect((evalStage.result as { adapter: unknown }).adapter).toEqual({ artifactId: adapter.id, uri: adapter.uri, sha256: adapter.sha256 });
    const version = await t.db.modelVersion.findFirstOrThrow({ where: { runId: run.id }, select: { adapterArtifactId: true } });
    expect(version.adapterArtifactId).toBe(adapter.id);

    // Both stages are over: their tokens were revoked when they ended and are refused (401), not just expired.
    const tokens = await t.db.runToken.findMany({ where: { runId: run.id }, select: { stage: true, attempt: true, revokedAt: true } });
    expect(tokens.map((x) => `${x.stage}-${x.attempt}:${x.revokedAt ? "revoked" : "live"}`).sort()).toEqual(["eval-1:revoked", "train-1:revoked"]);
    for (const job of jobsOf(run.id)) {
      const secret = (api.get("", "secrets", NS, `${job.metadata.name}-env`)!.stringData as Record<string, string>).LORAPLANE_RUN_TOKEN!;
      await expect(authenticateRunToken(t.db, run.id, secret)).rejects.toMatchObject({ status: 401 });
    }
  });

  it("fails the stage with the exit code, its meaning, the Job's reason and the last log lines", async () => {
    const s = await seed("k8s-bad-data");
    const { run } = await triggerRun(deps(), { projectId: s.projectId, pipelineId: s.pipelineId, trigger: "api" });
    const done = await finished(run.id);
    expect(done.status).toBe("failed");
    expect(done.error).toContain("workload exited with code 3 (invalid dataset)");
    expect(done.error).toContain("[kubernetes] Job failed: PodFailurePolicy");
    expect(done.error).toContain("train.jsonl:3: row has no output");
  });

  it("cancelling the run deletes the running Job", async () => {
    const s = await seed("k8s-hang");
    const { run } = await triggerRun(deps(), { projectId: s.projectId, pipelineId: s.pipelineId, trigger: "api" });
    await waitFor(async () => jobsOf(run.id).length > 0, 15_000, "the train Job");
    await waitFor(async () => (await t.db.stageRun.findFirst({ where: { runId: run.id, stage: "train", heartbeatAt: { not: null } }, select: { id: true } })) !== null, 15_000, "a heartbeat");
    await cancelRun(deps(), { runId: run.id, actor: { type: "user", userId: s.userId } });
    expect((await finished(run.id)).status).toBe("cancelled");
    await waitFor(async () => jobsOf(run.id).length === 0, 10_000, "the Job to be deleted");
    // The cancelled attempt's token was revoked with it.
    expect(await t.db.runToken.findMany({ where: { runId: run.id }, select: { stage: true, revokedAt: true } })).toEqual([{ stage: "train", revokedAt: expect.any(Date) }]);
    expect(api.get("", "secrets", NS, `lp-${run.id}-train-1-env`)).toBeUndefined();
  });
});
