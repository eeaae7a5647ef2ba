// The manifests the kubernetes executor produces, validated against the Kubernetes OpenAPI schemas
// (kubernetes-models) and checked for what the scheduler and the workload rely on.
import { describe, expect, it } from "vitest";
import { Job } from "kubernetes-models/batch/v1/Job";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import type { V1Job } from "@kubernetes/client-node";
import { buildWorkloadManifests, mountRootsFor } from "../../src/executors/kubernetes/manifests.ts";
import { jobNameFor } from "../../src/executors/kubernetes/names.ts";
import { podPath, spotPlacement } from "../../src/executors/kubernetes/kubernetes-executor.ts";
import { jobOptions, RUN_TOKEN, workloadSpec } from "./fixtures.ts";
import { validateJobSet } from "./jobset-schema.ts";

const DNS_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

function validate(m: ReturnType<typeof buildWorkloadManifests>) {
  new Job(m.job as ConstructorParameters<typeof Job>[0]).validate();
  if (m.secret) new Secret(m.secret as ConstructorParameters<typeof Secret>[0]).validate();
  if (m.service) new Service(m.service as ConstructorParameters<typeof Service>[0]).validate();
}

const container = (job: V1Job) => job.spec!.template.spec!.containers[0]!;
const env = (job: V1Job, name: string) => container(job).env!.find((e) => e.name === name);

describe("job names", () => {
  it("are deterministic DNS labels short enough for indexed pod hostnames", () => {
    const ids = ["cm9runabc123xyz", "Run_With.Odd/Chars", "x".repeat(120), "-leading-and-trailing-"];
    for (const id of ids) {
      const name = jobNameFor(id, "train", 3);
      expect(name).toBe(jobNameFor(id, "train", 3));
      expect(name).toMatch(DNS_LABEL);
      expect(name.length).toBeLessThanOrEqual(52);
      expect(`${name}-255`.length).toBeLessThanOrEqual(63);
    }
    expect(jobNameFor("cm9runabc123xyz", "eval", 2)).toBe("lp-cm9runabc123xyz-eval-2");
  });

  it("differ between runs, stages and attempts, also for ids that sanitise alike", () => {
    const names = new Set([
      jobNameFor("Run_A", "train", 1),
      jobNameFor("run-a", "train", 1),
      jobNameFor("run_a", "train", 1),
      jobNameFor("run-a", "eval", 1),
      jobNameFor("run-a", "train", 2),
      jobNameFor(`${"y".repeat(80)}1`, "train", 1),
      jobNameFor(`${"y".repeat(80)}2`, "train", 1),
    ]);
    expect(names.size).toBe(7);
  });
});

describe("single-node Job", () => {
  it("is schema-valid with GPU limits, scheduling constraints, volumes, limits on time and retries", () => {
    const spec = workloadSpec({
      resources: { gpus: 2, gpuType: "NVIDIA-H100-80GB-HBM3", cpu: "16", memory: "128Gi", nodeSelector: { pool: "gpu" }, tolerations: [{ key: "dedicated", operator: "Equal", value: "ml", effect: "NoSchedule" }], spot: true },
    });
    const m = buildWorkloadManifests(spec, jobNameFor(spec.runId, "train", 1), jobOptions());
    validate(m);
    const job = m.job;
    expect(job.metadata!.labels).toMatchObject({
      "app.kubernetes.io/managed-by": "loraplane",
      "loraplane.dev/run-id": spec.runId,
      "loraplane.dev/stage": "train",
      "loraplane.dev/attempt": "1",
    });
    expect(job.spec).toMatchObject({ backoffLimit: 2, activeDeadlineSeconds: 7200, ttlSecondsAfterFinished: 86_400, completions: 1, parallelism: 1 });
    expect(job.spec!.completionMode).toBeUndefined();
    const pod = job.spec!.template.spec!;
    expect(pod.restartPolicy).toBe("Never");
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.nodeSelector).toEqual({ pool: "gpu", "nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3" });
    expect(pod.tolerations).toEqual([
      { key: "dedicated", operator: "Equal", value: "ml", effect: "NoSchedule" },
      { key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" },
      { key: "node.kubernetes.io/lifecycle", operator: "Equal", value: "spot", effect: "NoSchedule" },
    ]);
    expect(pod.affinity!.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution!.nodeSelectorTerms[0]!.matchExpressions).toEqual([
      { key: "node.kubernetes.io/lifecycle", operator: "In", values: ["spot"] },
    ]);
    const c = container(job);
    expect(c.resources).toEqual({ requests: { cpu: "16", memory: "128Gi", "nvidia.com/gpu": "2" }, limits: { memory: "128Gi", "nvidia.com/gpu": "2" } });
    // Per-run sub-path mounts (issue 11 finding 11): only this run's directory (read-only) with this attempt's own
    // directory read-write, only this project's datasets (read-only); never all of /runs or /data.
    expect(c.volumeMounts).toEqual([
      { name: "models", mountPath: "/models", readOnly: true },
      { name: "data", mountPath: `/data/projects/${spec.projectId}/datasets`, subPath: `projects/${spec.projectId}/datasets`, readOnly: true },
      { name: "runs", mountPath: `/runs/${spec.runId}`, subPath: spec.runId, readOnly: true },
      { name: "runs", mountPath: `/runs/${spec.runId}/train-1`, subPath: `${spec.runId}/train-1`, readOnly: false },
      { name: "dshm", mountPath: "/dev/shm" },
    ]);
    expect(c.volumeMounts!.filter((v) => !v.readOnly && v.name !== "dshm").map((v) => v.mountPath)).toEqual([`/runs/${spec.runId}/train-1`]);
    expect(c.volumeMounts!.some((v) => v.mountPath === "/runs" || v.mountPath === "/data")).toBe(false);
    expect(pod.volumes!.map((v) => v.persistentVolumeClaim?.claimName ?? v.emptyDir?.medium)).toEqual(["models", "datasets", "loraplane-runs", "Memory"]);
    // Two processes on one node: torchrun standalone, the image's module entry point.
    expect(c.command).toEqual(["loraplane-runtime", "train", "--config", `/runs/${spec.runId}/train-1/job.json`]);
    expect(job.spec!.podFailurePolicy!.rules.map((r) => r.action)).toEqual(["FailJob", "Ignore"]);
  });

  it("keeps credentials out of the Job spec: the run token comes from the per-run Secret", () => {
    const spec = workloadSpec();
    const name = jobNameFor(spec.runId, "train", 1);
    const m = buildWorkloadManifests(spec, name, jobOptions());
    validate(m);
    expect(JSON.stringify(m.job)).not.toContain(RUN_TOKEN);
    expect(env(m.job, "LORAPLANE_RUN_TOKEN")).toEqual({ name: "LORAPLANE_RUN_TOKEN", valueFrom: { secretKeyRef: { name: `${name}-env`, key: "LORAPLANE_RUN_TOKEN" } } });
    expect(env(m.job, "LORAPLANE_URL")).toEqual({ name: "LORAPLANE_URL", value: "http://loraplane-web.loraplane:3000" });
    expect(env(m.job, "HF_TOKEN")).toEqual({ name: "HF_TOKEN", valueFrom: { secretKeyRef: { name: "hf-credentials", key: "token" } } });
    expect(m.secret).toMatchObject({ metadata: { name: `${name}-env` }, type: "Opaque", stringData: { LORAPLANE_RUN_TOKEN: RUN_TOKEN } });
    expect(m.secret!.stringData).not.toHaveProperty("LORAPLANE_URL");
  });

  it("runs multi-GPU training on one node through torchrun --standalone", () => {
    const spec = workloadSpec({ resources: { ...workloadSpec().resources, gpus: 8 }, distributed: { nprocPerNode: 8, nnodes: 1, strategy: "ddp" } });
    const m = buildWorkloadManifests(spec, jobNameFor(spec.runId, "train", 1), jobOptions());
    validate(m);
    expect(container(m.job).command).toEqual([
      "torchrun", "--nnodes=1", "--nproc_per_node=8", "--standalone", "-m", "loraplane_runtime.cli", "train", "--config", `/runs/${spec.runId}/train-1/job.json`,
    ]);
    expect(m.service).toBeNull();
  });

  it("evaluates in one process on at most one GPU, without spot constraints when not asked", () => {
    const spec = workloadSpec({ stage: "eval", command: "evaluate", resources: { ...workloadSpec().resources, gpus: 4 }, distributed: { nprocPerNode: 4, nnodes: 2, strategy: "ddp" } });
    const m = buildWorkloadManifests(spec, jobNameFor(spec.runId, "eval", 1), jobOptions({ claims: { artifacts: "runs" }, imagePullSecrets: [], serviceAccountName: undefined }));
    validate(m);
    const c = container(m.job);
    expect(c.command).toEqual(["loraplane-runtime", "evaluate", "--config", `/runs/${spec.runId}/eval-1/job.json`]);
    expect(c.resources!.limits!["nvidia.com/gpu"]).toBe("1");
    expect(m.job.spec!.completionMode).toBeUndefined();
    expect(m.job.spec!.template.spec!.affinity).toBeUndefined();
    expect(m.job.spec!.template.spec!.volumes!.map((v) => v.name)).toEqual(["runs", "dshm"]);
    // Eval reads the train attempt's adapter through the read-only run mount and writes only to its own attempt.
    expect(c.volumeMounts).toEqual([
      { name: "runs", mountPath: `/runs/${spec.runId}`, subPath: spec.runId, readOnly: true },
      { name: "runs", mountPath: `/runs/${spec.runId}/eval-1`, subPath: `${spec.runId}/eval-1`, readOnly: false },
      { name: "dshm", mountPath: "/dev/shm" },
    ]);
  });

  it("two tenants' Jobs share no writable path and see none of each other's runs or datasets", () => {
    const a = buildWorkloadManifests(workloadSpec({ runId: "runa", projectId: "proja" }), "lp-runa-train-1", jobOptions());
    const b = buildWorkloadManifests(workloadSpec({ runId: "runb", projectId: "projb" }), "lp-runb-train-1", jobOptions());
    validate(a);
    validate(b);
    const seen = (m: typeof a) => container(m.job).volumeMounts!.filter((v) => v.name !== "dshm" && v.name !== "models").map((v) => v.mountPath);
    expect(seen(a)).toEqual(["/data/projects/proja/datasets", "/runs/runa", "/runs/runa/train-1"]);
    for (const p of seen(a)) expect(seen(b).some((q) => q === p || q.startsWith(`${p}/`) || p.startsWith(`${q}/`))).toBe(false);
    expect(() => buildWorkloadManifests(workloadSpec({ runId: "../runb" }), "x", jobOptions())).toThrow(/run id/);
    expect(() => buildWorkloadManifests(workloadSpec({ projectId: "a/../b" }), "x", jobOptions())).toThrow(/project id/);
  });

  it("requests no GPU (and tolerates no GPU taint) for a CPU-only workload", () => {
    const spec = workloadSpec({ resources: { ...workloadSpec().resources, gpus: 0 } });
    const m = buildWorkloadManifests(spec, jobNameFor(spec.runId, "train", 1), jobOptions());
    validate(m);
    expect(container(m.job).resources).toEqual({ requests: { cpu: "8", memory: "64Gi" }, limits: { memory: "64Gi" } });
    expect(m.job.spec!.template.spec!.tolerations).toBeUndefined();
  });
});

describe("multi-node Job", () => {
  it("is an Indexed Job with a headless Service; rank from the completion index, rank 0 as master", () => {
    const spec = workloadSpec({ resources: { ...workloadSpec().resources, gpus: 8 }, distributed: { nprocPerNode: 8, nnodes: 4, strategy: "ddp" } });
    const name = jobNameFor(spec.runId, "train", 2);
    const m = buildWorkloadManifests({ ...spec, attempt: 2 }, name, jobOptions());
    validate(m);
    expect(m.job.spec).toMatchObject({ completionMode: "Indexed", completions: 4, parallelism: 4 });
    expect(m.job.spec!.template.spec!.subdomain).toBe(name);
    expect(container(m.job).command).toEqual([
      "torchrun", "--nnodes=4", "--nproc_per_node=8", "--node_rank=$(NODE_RANK)", "--master_addr=$(MASTER_ADDR)", "--master_port=$(MASTER_PORT)",
      "-m", "loraplane_runtime.cli", "train", "--config", `/runs/${spec.runId}/train-2/job.json`,
    ]);
    expect(env(m.job, "MASTER_ADDR")!.value).toBe(`${name}-0.${name}`);
    expect(env(m.job, "NODE_RANK")!.valueFrom!.fieldRef!.fieldPath).toBe("metadata.annotations['batch.kubernetes.io/job-completion-index']");
    // Every $(VAR) in the command is defined in the container env, or the kubelet would pass it through literally.
    const defined = new Set(container(m.job).env!.map((e) => e.name));
    for (const ref of container(m.job).command!.join(" ").matchAll(/\$\((\w+)\)/g)) expect(defined).toContain(ref[1]);
    expect(m.service!.spec).toMatchObject({ clusterIP: "None", publishNotReadyAddresses: true, selector: { "loraplane.dev/job": name } });
    expect(m.job.spec!.template.metadata!.labels!["loraplane.dev/job"]).toBe(name);
  });
});

describe("multi-node JobSet (K8S_MULTINODE_ENGINE=jobset)", () => {
  const spec = workloadSpec({ resources: { ...workloadSpec().resources, gpus: 8 }, distributed: { nprocPerNode: 8, nnodes: 4, strategy: "ddp" } });
  const name = jobNameFor(spec.runId, "train", 1);
  const m = buildWorkloadManifests(spec, name, jobOptions({ multiNodeEngine: "jobset" }));

  it("matches the JobSet CRD schema, and its Job template the batch/v1 schema", () => {
    expect(m.jobSet).not.toBeNull();
    validateJobSet(m.jobSet);
    const rjob = m.jobSet!.spec.replicatedJobs[0]!;
    new Job({ apiVersion: "batch/v1", kind: "Job", metadata: { name: `${name}-n-0` }, spec: rjob.template.spec } as ConstructorParameters<typeof Job>[0]).validate();
    // The check is real: a field the CRD does not declare (it would be pruned by the API server) is refused.
    expect(() => validateJobSet({ ...m.jobSet, spec: { ...m.jobSet!.spec, network: { ...m.jobSet!.spec.network, dnsPolicy: "x" } } })).toThrow(/network.*dnsPolicy/);
    expect(() => validateJobSet({ ...m.jobSet, spec: { ...m.jobSet!.spec, successPolicy: { operator: "Most" } } })).toThrow(/successPolicy\/operator/);
  });

  it("restarts the whole group on a failed rank, fails at once on bad config or data, and keeps rank 0 addressable", () => {
    const js = m.jobSet!;
    const rjob = js.spec.replicatedJobs[0]!;
    expect(rjob.replicas).toBe(1);
    expect(rjob.template.spec).toMatchObject({ completionMode: "Indexed", completions: 4, parallelism: 4, backoffLimit: 0 });
    expect(js.spec.failurePolicy.maxRestarts).toBe(jobOptions().backoffLimit);
    expect(js.spec.failurePolicy.rules).toEqual([{ name: "bad-config-or-data", action: "FailJobSet", onJobFailureReasons: ["PodFailurePolicy"] }]);
    expect(rjob.template.spec.podFailurePolicy!.rules[0]).toMatchObject({ action: "FailJob", onExitCodes: { values: [2, 3] } });
    expect(js.spec.network).toEqual({ enableDNSHostnames: true, subdomain: name, publishNotReadyAddresses: true });
    // The JobSet's pods are `<jobset>-n-<job index>-<completion index>`; rank 0 is the master.
    const job = { ...m.job, spec: rjob.template.spec };
    expect(env(job, "MASTER_ADDR")!.value).toBe(`${name}-n-0-0.${name}`);
    expect(`${name}-n-0-255`.length).toBeLessThanOrEqual(63);
    expect(env(job, "NODE_RANK")!.valueFrom!.fieldRef!.fieldPath).toBe("metadata.annotations['batch.kubernetes.io/job-completion-index']");
    // The JobSet makes the headless Service and sets the pods' subdomain; the pods keep Loraplane's labels for logs.
    expect(m.service).toBeNull();
    expect(rjob.template.spec.template.spec!.subdomain).toBeUndefined();
    expect(rjob.template.spec.template.metadata!.labels!["loraplane.dev/job"]).toBe(name);
    expect(JSON.stringify(js)).not.toContain(RUN_TOKEN);
  });

  it("is used only for multi-node training", () => {
    const single = buildWorkloadManifests(workloadSpec(), name, jobOptions({ multiNodeEngine: "jobset" }));
    expect(single.jobSet).toBeNull();
    const evalSpec = workloadSpec({ stage: "eval", command: "evaluate", distributed: { nprocPerNode: 8, nnodes: 4, strategy: "ddp" } });
    expect(buildWorkloadManifests(evalSpec, name, jobOptions({ multiNodeEngine: "jobset" })).jobSet).toBeNull();
    expect(buildWorkloadManifests(spec, name, jobOptions()).jobSet).toBeNull();
  });
});

describe("paths inside the pod", () => {
  const roots = Object.values(mountRootsFor({ runId: "r1", projectId: "p1", stage: "eval", attempt: 1 }, jobOptions()));
  it("accepts absolute paths and file:// URIs under what the Job mounts", () => {
    expect(podPath("file:///data/projects/p1/datasets/demo/v1", "paths.dataDir", roots)).toBe("/data/projects/p1/datasets/demo/v1");
    expect(podPath("/models/qwen", "paths.baseModel", roots)).toBe("/models/qwen");
    expect(podPath("/runs/r1/train-1/output/adapter", "paths.adapterDir", roots)).toBe("/runs/r1/train-1/output/adapter");
  });
  it("rejects what the pod cannot see, naming the field", () => {
    expect(() => podPath("s3://bucket/data", "paths.dataDir", roots)).toThrow(/paths\.dataDir: .*not a path/);
    expect(() => podPath("relative/dir", "paths.baseModel", roots)).toThrow(/paths\.baseModel: .*absolute/);
    expect(() => podPath("/home/me/model", "paths.baseModel", roots)).toThrow(/paths\.baseModel: .*no volume mounted/);
    expect(() => podPath("/data/../etc", "paths.dataDir", roots)).toThrow(/\.\. segments/);
    // Another project's datasets and another run's directory are not mounted.
    expect(() => podPath("/data/projects/p2/datasets/demo/v1", "paths.dataDir", roots)).toThrow(/no volume mounted/);
    expect(() => podPath("/runs/r2/train-1/output/adapter", "paths.adapterDir", roots)).toThrow(/no volume mounted/);
    const noModels = Object.values(mountRootsFor({ runId: "r1", projectId: "p1", stage: "eval", attempt: 1 }, jobOptions({ claims: { artifacts: "runs" } })));
    expect(() => podPath("/models/x", "paths.baseModel", noModels)).toThrow(/K8S_MODELS_PVC/);
  });
});

describe("spot placement from config", () => {
  it("parses the node label and the taint to tolerate", () => {
    expect(spotPlacement("cloud.google.com/gke-spot=true", "cloud.google.com/gke-spot=true:NoSchedule")).toEqual({
      nodeSelector: { key: "cloud.google.com/gke-spot", value: "true" },
      toleration: { key: "cloud.google.com/gke-spot", value: "true", effect: "NoSchedule" },
    });
    expect(spotPlacement("kubernetes.azure.com/scalesetpriority=spot", "kubernetes.azure.com/scalesetpriority:NoSchedule").toleration).toEqual({
      key: "kubernetes.azure.com/scalesetpriority",
      value: undefined,
      effect: "NoSchedule",
    });
  });
});
