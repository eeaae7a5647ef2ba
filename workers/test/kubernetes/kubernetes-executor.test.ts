// The kubernetes executor driving the real @kubernetes/client-node over HTTP against the in-memory API server:
// check-then-create, adoption on 409, Job conditions → workload state, the watch cache (incl. 410 Gone → re-list),
// pod logs, cancel, and multi-node objects. The test plays the Job controller and the kubelet through the fake's hooks.
import { mkdtemp, readFile, rm, mkdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { KubeConfig } from "@kubernetes/client-node";
import { Job } from "kubernetes-models/batch/v1/Job";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { createKubernetesExecutor, type TKubernetesExecutor } from "../../src/executors/kubernetes/kubernetes-executor.ts";
import { FakeKubeApi, type TKubeObject } from "../helpers/fake-kube-api.ts";
import { jobOptions, RUN_TOKEN, workloadSpec } from "./fixtures.ts";
import { validateJobSet } from "./jobset-schema.ts";

const NS = "loraplane-jobs";
const PORT = 21_100;

let api: FakeKubeApi;
let artifactsDir: string;
let executor: TKubernetesExecutor;
let seq = 0;

beforeAll(async () => {
  api = new FakeKubeApi();
  await api.start(PORT);
  artifactsDir = await mkdtemp(path.join(tmpdir(), "lp-k8s-"));
});
afterAll(async () => {
  await api.stop();
  await rm(artifactsDir, { recursive: true, force: true });
});

beforeEach(() => {
  const kc = new KubeConfig();
  kc.loadFromOptions(api.kubeconfig(NS));
  executor = createKubernetesExecutor({ ...jobOptions({ namespace: NS }), kubeConfig: kc, artifactsDir, watchRetryDelayMs: 20 });
});
afterEach(async () => {
  executor.close();
  // The next test counts watch streams: wait until the server has seen this one go.
  await until(() => api.openWatches, (n) => n === 0);
});

/** A fresh run id per test: tests share one API server. */
const spec = (over: Parameters<typeof workloadSpec>[0] = {}) => {
  const runId = `run${++seq}x${Date.now().toString(36)}`;
  return workloadSpec({ runId, job: { ...workloadSpec().job, runId }, ...over });
};
const jobName = (h: { externalId: string }) => h.externalId.split("/")[1]!;
const jobRequests = (method: string, name?: string) =>
  api.requests.filter((r) => r.method === method && r.path.startsWith(`/apis/batch/v1/namespaces/${NS}/jobs`) && (name === undefined || r.path.endsWith(`/${name}`)) && r.query.watch !== "true");

// ---- the cluster side: what the Job controller and the kubelet would do ---------------------------------------------

function startPod(job: string, opts: { index?: number; attempt?: number } = {}): string {
  const j = api.get("batch", "jobs", NS, job)!;
  const template = (j.spec as { template: { metadata: { labels: Record<string, string> } } }).template;
  const name = `${job}-${opts.index ?? 0}-${opts.attempt ?? 0}`;
  api.create("", "pods", {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      namespace: NS,
      labels: { ...template.metadata.labels, "job-name": job },
      ...(opts.index === undefined ? {} : { annotations: { "batch.kubernetes.io/job-completion-index": String(opts.index) } }),
      ownerReferences: [{ apiVersion: "batch/v1", kind: "Job", name: job, uid: j.metadata.uid! }],
    },
    spec: {},
    status: { phase: "Running", containerStatuses: [{ name: "runtime", state: { running: { startedAt: new Date().toISOString() } } }] },
  });
  api.update("batch", "jobs", NS, job, (o) => {
    o.status = { ...(o.status as object), active: 1 };
  });
  return name;
}

function finishPod(pod: string, exitCode: number, log: string): void {
  api.setPodLog(NS, pod, log);
  api.update("", "pods", NS, pod, (o) => {
    o.status = {
      phase: exitCode === 0 ? "Succeeded" : "Failed",
      containerStatuses: [{ name: "runtime", state: { terminated: { exitCode, reason: exitCode === 0 ? "Completed" : "Error", finishedAt: new Date().toISOString() } } }],
    };
  });
}

function setJobCondition(job: string, type: "Complete" | "Failed", reason?: string, message?: string): void {
  api.update("batch", "jobs", NS, job, (o: TKubeObject) => {
    const now = new Date().toISOString();
    o.status = {
      active: 0,
      ...(type === "Complete" ? { succeeded: 1, completionTime: now } : { failed: 1 }),
      conditions: [{ type, status: "True", lastProbeTime: now, lastTransitionTime: now, ...(reason ? { reason } : {}), ...(message ? { message } : {}) }],
    };
  });
}

async function until<T>(fn: () => Promise<T> | T, ok: (v: T) => boolean, ms = 3000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 10));
  }
}

const RESULT = '{"event":"result","stage":"train","adapterDir":"/runs/x/train-1/output/adapter","finalLoss":0.41,"steps":300}';
const LOG = `[loraplane-runtime] loading model\n[loraplane-runtime] step 300/300 loss 0.41\n${RESULT}\n`;

describe("launch", () => {
  it("creates one schema-valid Job and a run Secret owned by it, writes job.json with pod paths, and adopts on relaunch", async () => {
    const s = spec();
    const first = await executor.launch(s);
    expect(first.launched).toBe(true);
    const name = jobName(first);
    expect(first.externalId).toBe(`${NS}/lp-${s.runId}-train-1`);
    expect(first.outputDir).toBe(`/runs/${s.runId}/train-1/output`);

    const job = api.get("batch", "jobs", NS, name)!;
    new Job(job as unknown as ConstructorParameters<typeof Job>[0]).validate();
    expect(JSON.stringify(job)).not.toContain(RUN_TOKEN);
    const secret = api.get("", "secrets", NS, `${name}-env`)!;
    new Secret(secret as unknown as ConstructorParameters<typeof Secret>[0]).validate();
    expect(secret.stringData).toEqual({ LORAPLANE_RUN_TOKEN: RUN_TOKEN });
    expect(secret.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: "Job", name, uid: job.metadata.uid })]);

    const written = JSON.parse(await readFile(path.join(artifactsDir, s.runId, "train-1", "job.json"), "utf8")) as { paths: Record<string, string> };
    expect(written.paths).toEqual({ baseModel: "/models/qwen2.5-7b", dataDir: `/data/projects/${s.projectId}/datasets/demo/v1`, outputDir: `/runs/${s.runId}/train-1/output` });

    // A restarted worker launching the same attempt finds the Job: no second POST.
    const again = await executor.launch(s);
    expect(again).toEqual({ ...first, launched: false });
    expect(jobRequests("POST").filter((r) => (r.body as TKubeObject).metadata.name === name)).toHaveLength(1);
    expect(api.list("batch", "jobs", NS, `loraplane.dev/run-id=${s.runId}`)).toHaveLength(1);
  });

  it("adopts the Job when another worker created it between the check and the create (409 AlreadyExists)", async () => {
    const s = spec();
    const name = executor.handleFor(s).externalId.split("/")[1]!;
    // The other worker's launch, then our GET races it and sees 404.
    const otherKc = new KubeConfig();
    otherKc.loadFromOptions(api.kubeconfig(NS));
    const other = createKubernetesExecutor({ ...jobOptions({ namespace: NS }), kubeConfig: otherKc, artifactsDir });
    await other.launch(s);
    other.close();
    api.failNext("GET", new RegExp(`/jobs/${name}$`), 404);
    const before = jobRequests("POST").length;
    const h = await executor.launch(s);
    expect(h.launched).toBe(false);
    const posts = jobRequests("POST").slice(before);
    expect(posts).toHaveLength(1); // our create, answered 409
    expect(api.list("batch", "jobs", NS, `loraplane.dev/run-id=${s.runId}`)).toHaveLength(1);
  });

  it("creates the Secret when adopting a Job whose launch crashed before the Secret existed", async () => {
    const s = spec();
    const h = await executor.launch(s);
    api.remove("", "secrets", NS, `${jobName(h)}-env`);
    expect((await executor.launch(s)).launched).toBe(false);
    expect(api.get("", "secrets", NS, `${jobName(h)}-env`)?.stringData).toEqual({ LORAPLANE_RUN_TOKEN: RUN_TOKEN });
  });

  it("refuses to adopt a same-named Job that Loraplane did not create", async () => {
    const s = spec();
    api.create("batch", "jobs", { metadata: { name: jobName(executor.handleFor(s)), namespace: NS, labels: { app: "someone-else" } }, spec: {} });
    await expect(executor.launch(s)).rejects.toThrow(/not created by Loraplane/);
  });

  it("rejects inputs the pod cannot see before creating anything", async () => {
    const s = spec();
    const bad = { ...s, job: { ...s.job, paths: { baseModel: "s3://models/qwen", dataDir: "/data/x" } } };
    await expect(executor.launch(bad)).rejects.toThrow(/paths\.baseModel/);
    expect(api.get("batch", "jobs", NS, jobName(executor.handleFor(s)))).toBeUndefined();
  });

  it("surfaces API errors other than 409", async () => {
    const s = spec();
    api.failNext("POST", /\/jobs$/, 500);
    await expect(executor.launch(s)).rejects.toThrow();
    expect(api.get("batch", "jobs", NS, jobName(executor.handleFor(s)))).toBeUndefined();
  });
});

describe("state, events and logs", () => {
  it("Job Complete → exited 0, and the result event is read from the finished pod's log", async () => {
    const h = await executor.launch(spec());
    const name = jobName(h);
    expect(await executor.state(h)).toEqual({ phase: "running" });
    // While running, workloads report over HTTP: no log reads.
    expect(await executor.readEvents(h, 0)).toEqual({ lines: [], offset: 0 });
    const pod = startPod(name);
    finishPod(pod, 0, LOG);
    setJobCondition(name, "Complete");
    expect(await until(() => executor.state(h), (s) => s.phase !== "running")).toEqual({ phase: "exited", exitCode: 0 });
    const events = await executor.readEvents(h, 0);
    expect(events).toEqual({ lines: [RESULT], offset: 1 });
    expect(await executor.readEvents(h, events.offset)).toEqual({ lines: [], offset: 1 });
    expect(await executor.tailLogs(h, 2)).toEqual(["[loraplane-runtime] step 300/300 loss 0.41", RESULT]);
  });

  it("Job Failed (BackoffLimitExceeded) → the pod's non-zero exit code, with the reason in the log tail", async () => {
    const h = await executor.launch(spec());
    const name = jobName(h);
    finishPod(startPod(name, { attempt: 0 }), 1, "Traceback...\nloraplane-runtime: error: RuntimeError: boom\n");
    await new Promise((r) => setTimeout(r, 5));
    finishPod(startPod(name, { attempt: 1 }), 4, "loraplane-runtime: error: out of memory: CUDA out of memory\n");
    setJobCondition(name, "Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit");
    expect(await until(() => executor.state(h), (s) => s.phase !== "running")).toEqual({ phase: "exited", exitCode: 4 });
    expect(await executor.tailLogs(h, 5)).toEqual([
      "[kubernetes] Job failed: BackoffLimitExceeded (Job has reached the specified backoff limit)",
      "loraplane-runtime: error: out of memory: CUDA out of memory",
    ]);
  });

  it("Job past activeDeadlineSeconds → lost with DeadlineExceeded, not the killed pod's exit code", async () => {
    const h = await executor.launch(spec());
    const name = jobName(h);
    finishPod(startPod(name), 143, "[loraplane-runtime] step 10/300\n");
    setJobCondition(name, "Failed", "DeadlineExceeded", "Job was active longer than specified deadline");
    const state = await until(() => executor.state(h), (s) => s.phase !== "running");
    expect(state).toEqual({ phase: "lost", reason: "Job failed: DeadlineExceeded (Job was active longer than specified deadline)" });
  });

  it("Job failed without any pod exit status (e.g. pods never scheduled) → lost with the reason", async () => {
    const h = await executor.launch(spec());
    setJobCondition(jobName(h), "Failed", "PodFailurePolicy", "Container runtime for pod failed with exit code 3");
    expect(await until(() => executor.state(h), (s) => s.phase !== "running")).toMatchObject({ phase: "lost", reason: expect.stringMatching(/PodFailurePolicy/) });
  });

  it("a Job deleted behind the worker's back → lost", async () => {
    const h = await executor.launch(spec());
    expect(await executor.state(h)).toEqual({ phase: "running" });
    api.remove("batch", "jobs", NS, jobName(h));
    expect(await until(() => executor.state(h), (s) => s.phase !== "running")).toMatchObject({ phase: "lost", reason: expect.stringMatching(/no longer exists/) });
  });

  it("tailLogs names a container that cannot start (e.g. the run Secret is missing)", async () => {
    const h = await executor.launch(spec());
    const pod = startPod(jobName(h));
    api.update("", "pods", NS, pod, (o) => {
      o.status = { phase: "Pending", containerStatuses: [{ name: "runtime", state: { waiting: { reason: "CreateContainerConfigError", message: 'secret "x" not found' } } }] };
    });
    const tail = await executor.tailLogs(h, 10);
    expect(tail[0]).toBe(`[kubernetes] pod ${pod}: CreateContainerConfigError: secret "x" not found`);
    expect(tail[1]).toMatch(/logs of pod .* are not available \(HTTP 400\)/);
  });
});

describe("watch cache", () => {
  it("follows Job changes through the watch instead of GETting each poll", async () => {
    const h = await executor.launch(spec());
    const name = jobName(h);
    await executor.state(h); // starts the cache (list + watch)
    await until(() => api.openWatches, (n) => n > 0);
    const gets = jobRequests("GET", name).length;
    for (let i = 0; i < 5; i++) expect(await executor.state(h)).toEqual({ phase: "running" });
    setJobCondition(name, "Complete");
    expect(await until(() => executor.state(h), (s) => s.phase !== "running")).toEqual({ phase: "exited", exitCode: 0 });
    expect(jobRequests("GET", name).length).toBe(gets);
    const watch = api.requests.filter((r) => r.query.watch === "true").at(-1)!;
    expect(watch.query.labelSelector).toBe("app.kubernetes.io/managed-by=loraplane");
    expect(Number(watch.query.resourceVersion)).toBeGreaterThan(0);
  });

  it("resumes from the last resourceVersion after the stream ends, and re-lists on 410 Gone", async () => {
    const h = await executor.launch(spec());
    const name = jobName(h);
    await executor.state(h);
    await until(() => api.openWatches, (n) => n > 0);
    const { lists, watches } = { ...executor.cache.stats };

    // A normal end of the stream (server timeout): reconnect from the newest resourceVersion, no re-list.
    api.closeWatches();
    await until(() => executor.cache.stats.watches, (n) => n > watches);
    await until(() => api.openWatches, (n) => n > 0);
    expect(executor.cache.stats.lists).toBe(lists);
    const resumed = api.requests.filter((r) => r.query.watch === "true").at(-1)!;
    expect(Number(resumed.query.resourceVersion)).toBeGreaterThan(0);

    // The stream drops and the first reconnect fails; meanwhile the Job finishes and the server compacts its history
    // past the cache's resourceVersion. The resumed watch gets 410 Gone: the missed events are unrecoverable, so the
    // cache must re-list to see the completion.
    api.closeWatches();
    api.failNext("GET", /\/jobs$/, 503);
    setJobCondition(name, "Complete");
    api.compactHistory();
    await until(() => executor.cache.stats.expired, (n) => n > 0);
    await until(() => executor.cache.stats.lists, (n) => n > lists);
    expect(executor.cache.stats.expired).toBeGreaterThanOrEqual(1);
    expect(await executor.state(h)).toEqual({ phase: "exited", exitCode: 0 });
    await until(() => api.openWatches, (n) => n > 0);
    expect(api.openWatches).toBeGreaterThan(0);
  });
});

describe("cancel", () => {
  it("deletes the Job with background propagation; its Secret goes with it; a second cancel is a no-op", async () => {
    const h = await executor.launch(spec());
    const name = jobName(h);
    startPod(name);
    await executor.cancel(h);
    const del = jobRequests("DELETE", name).at(-1)!;
    const policy = (del.body as { propagationPolicy?: string } | undefined)?.propagationPolicy ?? del.query.propagationPolicy;
    expect(policy).toBe("Background");
    expect(api.get("batch", "jobs", NS, name)).toBeUndefined();
    expect(api.get("", "secrets", NS, `${name}-env`)).toBeUndefined();
    expect(api.list("", "pods", NS, `loraplane.dev/job=${name}`)).toEqual([]);
    await expect(executor.cancel(h)).resolves.toBeUndefined();
    expect(await until(() => executor.state(h), (s) => s.phase !== "running")).toMatchObject({ phase: "lost" });
  });
});

describe("multi-node", () => {
  it("creates an Indexed Job and a headless Service owned by it; rank 0's log carries the result", async () => {
    const s = spec({ resources: { ...workloadSpec().resources, gpus: 8 }, distributed: { nprocPerNode: 8, nnodes: 2, strategy: "ddp" } });
    const h = await executor.launch(s);
    const name = jobName(h);
    const job = api.get("batch", "jobs", NS, name)!;
    new Job(job as unknown as ConstructorParameters<typeof Job>[0]).validate();
    expect(job.spec).toMatchObject({ completionMode: "Indexed", completions: 2, parallelism: 2 });
    const svc = api.get("", "services", NS, name)!;
    new Service(svc as unknown as ConstructorParameters<typeof Service>[0]).validate();
    expect(svc.metadata.ownerReferences![0]!.uid).toBe(job.metadata.uid);
    expect(svc.spec).toMatchObject({ clusterIP: "None", selector: { "loraplane.dev/job": name } });

    finishPod(startPod(name, { index: 1 }), 0, "rank 1 has nothing to report\n");
    finishPod(startPod(name, { index: 0 }), 0, LOG);
    setJobCondition(name, "Complete");
    expect(await until(() => executor.state(h), (st) => st.phase !== "running")).toEqual({ phase: "exited", exitCode: 0 });
    expect((await executor.readEvents(h, 0)).lines).toEqual([RESULT]);

    await executor.cancel(h);
    expect(api.get("", "services", NS, name)).toBeUndefined();
  });
});

describe("outputs", () => {
  it("reads files the workload wrote on the shared artifacts volume, and nothing outside it", async () => {
    const s = spec({ stage: "eval", command: "evaluate" });
    const h = await executor.launch(s);
    await mkdir(path.join(artifactsDir, s.runId, "eval-1", "output"), { recursive: true });
    await writeFile(path.join(artifactsDir, s.runId, "eval-1", "output", "eval_report.json"), '{"metrics":{"rouge_l":0.5}}');
    expect(await executor.readOutputFile(h, "eval_report.json")).toBe('{"metrics":{"rouge_l":0.5}}');
    expect(await executor.readOutputFile(h, "missing.json")).toBeNull();
    await expect(executor.readOutputFile(h, "../../../../etc/passwd")).rejects.toThrow(/outside the artifacts volume/);
  });
});

describe("multi-node as a JobSet (K8S_MULTINODE_ENGINE=jobset)", () => {
  const JOBSET = { group: "jobset.x-k8s.io", version: "v1alpha2", plural: "jobsets", kind: "JobSet", namespaced: true };
  const PORT_JS = PORT + 1;
  let cluster: FakeKubeApi;
  let jsExecutor: TKubernetesExecutor;
  const multiNode = () => spec({ resources: { ...workloadSpec().resources, gpus: 8 }, distributed: { nprocPerNode: 8, nnodes: 2, strategy: "ddp" } });

  beforeAll(async () => {
    cluster = new FakeKubeApi({ types: [JOBSET] });
    await cluster.start(PORT_JS);
  });
  afterAll(async () => {
    await cluster.stop();
  });
  beforeEach(() => {
    const kc = new KubeConfig();
    kc.loadFromOptions(cluster.kubeconfig(NS));
    jsExecutor = createKubernetesExecutor({ ...jobOptions({ namespace: NS, multiNodeEngine: "jobset" }), kubeConfig: kc, artifactsDir, watchRetryDelayMs: 20 });
  });
  afterEach(() => jsExecutor.close());

  /** The JobSet controller's and kubelet's part: rank pods of the child Job `<jobset>-n-0`, then the JobSet's condition. */
  function runRanks(jobSet: string, results: { rank: number; exitCode: number; log: string }[]): void {
    const js = cluster.get(JOBSET.group, JOBSET.plural, NS, jobSet)!;
    const template = (js.spec as { replicatedJobs: { template: { spec: { template: { metadata: { labels: Record<string, string> } } } } }[] }).replicatedJobs[0]!.template.spec.template;
    for (const r of results) {
      const pod = `${jobSet}-n-0-${r.rank}-abcde`;
      cluster.create("", "pods", {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: pod, namespace: NS, labels: { ...template.metadata.labels }, annotations: { "batch.kubernetes.io/job-completion-index": String(r.rank) } },
        spec: {},
        status: {
          phase: r.exitCode === 0 ? "Succeeded" : "Failed",
          containerStatuses: [{ name: "runtime", state: { terminated: { exitCode: r.exitCode, reason: r.exitCode ? "Error" : "Completed", finishedAt: new Date().toISOString() } } }],
        },
      });
      cluster.setPodLog(NS, pod, r.log);
    }
  }
  function setJobSetCondition(jobSet: string, type: "Completed" | "Failed", reason: string, message: string): void {
    cluster.update(JOBSET.group, JOBSET.plural, NS, jobSet, (o) => {
      const now = new Date().toISOString();
      o.status = { conditions: [{ type, status: "True", reason, message, lastTransitionTime: now }] };
    });
  }

  it("creates one schema-valid JobSet (no bare Job or Service) with the run Secret owned by it, adopts on relaunch, reads rank 0's result", async () => {
    const s = multiNode();
    const h = await jsExecutor.launch(s);
    expect(h.launched).toBe(true);
    const name = jobName(h);
    const js = cluster.get(JOBSET.group, JOBSET.plural, NS, name)!;
    validateJobSet(js);
    expect(cluster.get("batch", "jobs", NS, name)).toBeUndefined();
    expect(cluster.get("", "services", NS, name)).toBeUndefined();
    const secret = cluster.get("", "secrets", NS, `${name}-env`)!;
    expect(secret.metadata.ownerReferences![0]).toMatchObject({ apiVersion: "jobset.x-k8s.io/v1alpha2", kind: "JobSet", uid: js.metadata.uid });
    expect(JSON.stringify(js)).not.toContain(RUN_TOKEN);

    const again = await jsExecutor.launch(s);
    expect(again).toMatchObject({ launched: false, externalId: h.externalId });
    expect(cluster.requests.filter((r) => r.method === "POST" && r.path.includes("/jobsets"))).toHaveLength(1);

    expect(await jsExecutor.state(h)).toEqual({ phase: "running" });
    runRanks(name, [{ rank: 1, exitCode: 0, log: "rank 1\n" }, { rank: 0, exitCode: 0, log: LOG }]);
    setJobSetCondition(name, "Completed", "AllJobsCompleted", "jobset completed successfully");
    expect(await jsExecutor.state(h)).toEqual({ phase: "exited", exitCode: 0 });
    expect((await jsExecutor.readEvents(h, 0)).lines).toEqual([RESULT]);

    // Cancel deletes the JobSet; its Secret goes with it.
    await jsExecutor.cancel(h);
    expect(cluster.get(JOBSET.group, JOBSET.plural, NS, name)).toBeUndefined();
    expect(cluster.get("", "secrets", NS, `${name}-env`)).toBeUndefined();
    expect(await jsExecutor.state(h)).toMatchObject({ phase: "lost" });
  });

  it("reports a failed JobSet with the failing rank's exit code, and names the reason in the logs", async () => {
    const h = await jsExecutor.launch(multiNode());
    const name = jobName(h);
    runRanks(name, [{ rank: 1, exitCode: 3, log: "bad row in train.jsonl line 7\n" }]);
    setJobSetCondition(name, "Failed", "FailedJobs", "jobset failed due to a failure policy rule");
    expect(await jsExecutor.state(h)).toEqual({ phase: "exited", exitCode: 3 });
    expect((await jsExecutor.tailLogs(h, 50))[0]).toMatch(/jobset failed due to a failure policy rule/);
  });

  it("says what to do when the cluster has no JobSet CRD", async () => {
    const kc = new KubeConfig();
    kc.loadFromOptions(api.kubeconfig(NS)); // the other API server: no jobsets type
    const noCrd = createKubernetesExecutor({ ...jobOptions({ namespace: NS, multiNodeEngine: "jobset" }), kubeConfig: kc, artifactsDir, watchRetryDelayMs: 20 });
    try {
      await expect(noCrd.launch(multiNode())).rejects.toThrow(/does not serve jobset.x-k8s.io\/v1alpha2 JobSets.*K8S_MULTINODE_ENGINE=indexed-job/);
    } finally {
      noCrd.close();
    }
  });
});
