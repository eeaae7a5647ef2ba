// Pure builders for the objects one workload attempt needs: a batch/v1 Job (Indexed for multi-node), a Secret with
// the per-run environment that must not appear in the Job spec, and the headless Service that gives multi-node pods
// stable DNS names for torchrun's rendezvous — or, with K8S_MULTINODE_ENGINE=jobset, a JobSet wrapping the same
// Indexed Job (the JobSet controller makes the headless Service and restarts the whole group when one rank fails).
// No I/O here, so every manifest is checked against the Kubernetes and JobSet CRD schemas in tests.
import type { V1EnvVar, V1Job, V1OwnerReference, V1Secret, V1Service, V1Toleration, V1Volume, V1VolumeMount } from "@kubernetes/client-node";
import type { TWorkloadSpec } from "../types.ts";
import { COMPLETION_INDEX_ANNOTATION, LABELS, labelsFor, secretNameFor, serviceNameFor } from "./names.ts";

/** Mount points of the image contract (gpu-runtime/README.md, Dockerfile.train). */
export const MOUNTS = { models: "/models", data: "/data", runs: "/runs" } as const;
export const CONTAINER_NAME = "runtime";
export const MASTER_PORT = 29500;

// Exit codes (gpu-runtime image contract) for which retrying the same pod cannot help: bad config, bad data.
const NON_RETRYABLE_EXIT_CODES = [2, 3];

export interface TKubernetesJobOptions {
  namespace: string;
  image: string;
  imagePullPolicy: "Always" | "IfNotPresent" | "Never";
  imagePullSecrets: string[];
  serviceAccountName?: string | undefined;
  claims: { models?: string | undefined; data?: string | undefined; artifacts: string };
  backoffLimit: number;
  ttlSecondsAfterFinished: number;
  /** Extra env from existing Secrets (never inline values). */
  secretEnv: { name: string; secretName: string; key: string }[];
  gpuTypeLabel: string;
  /** Multi-node training as an Indexed Job (default) or a JobSet (jobset.x-k8s.io/v1alpha2). */
  multiNodeEngine?: "indexed-job" | "jobset" | undefined;
  spot: { nodeSelector: { key: string; value: string }; toleration: { key: string; value?: string | undefined; effect: string } };
}

/** jobset.x-k8s.io/v1alpha2 JobSet: only the fields Loraplane sets (the CRD schema is checked in tests). */
export interface TJobSet {
  apiVersion: typeof JOBSET_API.apiVersion;
  kind: "JobSet";
  metadata: { name: string; namespace: string; labels: Record<string, string>; annotations: Record<string, string> };
  spec: {
    network: { enableDNSHostnames: true; subdomain: string; publishNotReadyAddresses: true };
    successPolicy: { operator: "All" };
    failurePolicy: { maxRestarts: number; rules: { name: string; action: "FailJobSet"; onJobFailureReasons: string[] }[] };
    ttlSecondsAfterFinished: number;
    replicatedJobs: { name: string; replicas: 1; template: { metadata: { labels: Record<string, string>; annotations: Record<string, string> }; spec: NonNullable<V1Job["spec"]> } }[];
  };
}

export const JOBSET_API = { group: "jobset.x-k8s.io", version: "v1alpha2", plural: "jobsets", apiVersion: "jobset.x-k8s.io/v1alpha2" } as const;
/** The JobSet's one replicated job. Pod hostnames are `<jobset>-n-0-<rank>`: a 52-character name (names.ts) plus
 *  5 + 3 digits stays a 63-character DNS label. */
export const JOBSET_REPLICATED_JOB = "n";

export interface TWorkloadManifests {
  job: V1Job;
  secret: V1Secret | null;
  service: V1Service | null;
  /** Set instead of creating `job` and `service` directly when multi-node training runs as a JobSet. */
  jobSet: TJobSet | null;
}

/** Environment variables whose values are credentials: they go into the per-run Secret, never into the Job spec. */
export function isSecretEnv(name: string): boolean {
  return /TOKEN|SECRET|PASSWORD|CREDENTIAL|API_KEY/i.test(name);
}

/** Paths the pod sees for an attempt: its job.json and output directory on the artifacts volume. */
export function podPathsFor(runId: string, stage: string, attempt: number) {
  const dir = `${MOUNTS.runs}/${runId}/${stage}-${attempt}`;
  return { dir, jobJson: `${dir}/job.json`, outputDir: `${dir}/output` };
}

function commandFor(spec: TWorkloadSpec, jobJson: string): string[] {
  const { nprocPerNode, nnodes } = spec.distributed;
  if (spec.stage !== "train" || nprocPerNode * nnodes <= 1) return ["loraplane-runtime", spec.command, "--config", jobJson];
  const rendezvous =
    nnodes > 1
      ? // $(VAR) is expanded by the kubelet from the container's env (see envFor), so every pod gets its own rank.
        ["--node_rank=$(NODE_RANK)", "--master_addr=$(MASTER_ADDR)", "--master_port=$(MASTER_PORT)"]
      : ["--standalone"];
  return ["torchrun", `--nnodes=${nnodes}`, `--nproc_per_node=${nprocPerNode}`, ...rendezvous, "-m", "loraplane_runtime.cli", spec.command, "--config", jobJson];
}

/** Whether this attempt runs as a JobSet: multi-node training with K8S_MULTINODE_ENGINE=jobset. */
export function usesJobSet(spec: Pick<TWorkloadSpec, "stage" | "distributed">, opts: Pick<TKubernetesJobOptions, "multiNodeEngine">): boolean {
  return opts.multiNodeEngine === "jobset" && spec.stage === "train" && spec.distributed.nnodes > 1;
}

/** Rank 0's stable DNS name: `<job>-0.<service>` for an Indexed Job, `<jobset>-<rjob>-0-0.<jobset>` in a JobSet. */
function masterAddrFor(spec: TWorkloadSpec, jobName: string, opts: TKubernetesJobOptions): string {
  return usesJobSet(spec, opts) ? `${jobName}-${JOBSET_REPLICATED_JOB}-0-0.${jobName}` : `${jobName}-0.${serviceNameFor(jobName)}`;
}

function envFor(spec: TWorkloadSpec, jobName: string, opts: TKubernetesJobOptions): V1EnvVar[] {
  const env: V1EnvVar[] = [
    { name: "PYTHONUNBUFFERED", value: "1" },
    { name: "HF_HUB_OFFLINE", value: "1" },
    { name: "TRANSFORMERS_OFFLINE", value: "1" },
  ];
  for (const [name, value] of Object.entries(spec.env).sort(([a], [b]) => a.localeCompare(b))) {
    env.push(isSecretEnv(name) ? { name, valueFrom: { secretKeyRef: { name: secretNameFor(jobName), key: name } } } : { name, value });
  }
  for (const s of opts.secretEnv) env.push({ name: s.name, valueFrom: { secretKeyRef: { name: s.secretName, key: s.key } } });
  if (spec.stage === "train" && spec.distributed.nnodes > 1) {
    env.push(
      { name: "NODE_RANK", valueFrom: { fieldRef: { fieldPath: `metadata.annotations['${COMPLETION_INDEX_ANNOTATION}']` } } },
      { name: "MASTER_ADDR", value: masterAddrFor(spec, jobName, opts) },
      { name: "MASTER_PORT", value: String(MASTER_PORT) },
    );
  }
  return env;
}

const SAFE_SEGMENT = /^[A-Za-z0-9_-]+$/;

/**
 * What a Job may see of the shared volumes, as absolute paths inside the pod: its own run's directory (read-only, with
 * its own attempt's directory read-write on top), its project's datasets (read-only) and the base models (read-only).
 * Nothing of another run or another project is mounted.
 */
export function mountRootsFor(spec: Pick<TWorkloadSpec, "runId" | "projectId" | "stage" | "attempt">, opts: Pick<TKubernetesJobOptions, "claims">) {
  for (const [what, id] of [["run id", spec.runId], ["project id", spec.projectId]] as const) {
    if (!SAFE_SEGMENT.test(id)) throw new Error(`${what} ${id} cannot name a directory`);
  }
  return {
    run: `${MOUNTS.runs}/${spec.runId}`,
    attempt: `${MOUNTS.runs}/${spec.runId}/${spec.stage}-${spec.attempt}`,
    datasets: opts.claims.data ? `${MOUNTS.data}/projects/${spec.projectId}/datasets` : null,
    models: opts.claims.models ? MOUNTS.models : null,
  };
}

function volumesFor(spec: TWorkloadSpec, opts: TKubernetesJobOptions): { volumes: V1Volume[]; mounts: V1VolumeMount[] } {
  const roots = mountRootsFor(spec, opts);
  const volumes: V1Volume[] = [];
  const mounts: V1VolumeMount[] = [];
  if (opts.claims.models) {
    volumes.push({ name: "models", persistentVolumeClaim: { claimName: opts.claims.models, readOnly: true } });
    mounts.push({ name: "models", mountPath: MOUNTS.models, readOnly: true });
  }
  if (opts.claims.data && roots.datasets) {
    // Only this project's datasets: <data PVC>/projects/<projectId>/datasets at the same path under /data.
    volumes.push({ name: "data", persistentVolumeClaim: { claimName: opts.claims.data, readOnly: true } });
    mounts.push({ name: "data", mountPath: roots.datasets, subPath: roots.datasets.slice(MOUNTS.data.length + 1), readOnly: true });
  }
  // Only this run: its directory read-only (the adapter eval reads, earlier attempts' files), and this attempt's own
  // directory read-write (job.json, outputs, checkpoints). The worker creates both before the Job exists.
  volumes.push({ name: "runs", persistentVolumeClaim: { claimName: opts.claims.artifacts } });
  mounts.push({ name: "runs", mountPath: roots.run, subPath: spec.runId, readOnly: true });
  mounts.push({ name: "runs", mountPath: roots.attempt, subPath: `${spec.runId}/${spec.stage}-${spec.attempt}`, readOnly: false });
  // NCCL and DataLoader workers use /dev/shm; the container default (64 MiB) breaks multi-GPU training.
  volumes.push({ name: "dshm", emptyDir: { medium: "Memory", sizeLimit: "16Gi" } });
  mounts.push({ name: "dshm", mountPath: "/dev/shm" });
  return { volumes, mounts };
}

export function buildWorkloadManifests(spec: TWorkloadSpec, jobName: string, opts: TKubernetesJobOptions): TWorkloadManifests {
  const labels = labelsFor(spec.runId, spec.stage, spec.attempt, jobName);
  const annotations = { "loraplane.dev/run-id": spec.runId };
  const paths = podPathsFor(spec.runId, spec.stage, spec.attempt);
  const multiNode = spec.stage === "train" && spec.distributed.nnodes > 1;
  const nodes = multiNode ? spec.distributed.nnodes : 1;
  // Evaluation runs one process; it never needs more than one GPU.
  const gpus = spec.stage === "train" ? spec.resources.gpus : Math.min(spec.resources.gpus, 1);
  const r = spec.resources;

  const nodeSelector: Record<string, string> = { ...r.nodeSelector };
  if (r.gpuType) nodeSelector[opts.gpuTypeLabel] = r.gpuType;
  const tolerations: V1Toleration[] = r.tolerations.map((t) => ({
    ...(t.key === undefined ? {} : { key: t.key }),
    operator: t.operator,
    ...(t.value === undefined || t.operator === "Exists" ? {} : { value: t.value }),
    ...(t.effect === undefined ? {} : { effect: t.effect }),
  }));
  // GPU node pools are commonly tainted nvidia.com/gpu:NoSchedule so that only GPU workloads land there.
  if (gpus > 0) tolerations.push({ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" });
  if (r.spot) {
    const t = opts.spot.toleration;
    tolerations.push(t.value === undefined ? { key: t.key, operator: "Exists", effect: t.effect } : { key: t.key, operator: "Equal", value: t.value, effect: t.effect });
  }

  const resources: { requests: Record<string, string>; limits: Record<string, string> } = {
    requests: { cpu: r.cpu, memory: r.memory },
    // No CPU limit: throttling a data loader slows the GPUs; memory is limited so an OOM is the pod's, not the node's.
    limits: { memory: r.memory },
  };
  if (gpus > 0) {
    resources.requests["nvidia.com/gpu"] = String(gpus);
    resources.limits["nvidia.com/gpu"] = String(gpus);
  }

  const { volumes, mounts } = volumesFor(spec, opts);
  const hasSecretEnv = Object.keys(spec.env).some(isSecretEnv);

  const job: V1Job = {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: jobName, namespace: opts.namespace, labels, annotations },
    spec: {
      backoffLimit: opts.backoffLimit,
      activeDeadlineSeconds: spec.timeoutSeconds,
      ttlSecondsAfterFinished: opts.ttlSecondsAfterFinished,
      ...(multiNode ? { completionMode: "Indexed", completions: nodes, parallelism: nodes } : { completions: 1, parallelism: 1 }),
      podFailurePolicy: {
        rules: [
          { action: "FailJob", onExitCodes: { containerName: CONTAINER_NAME, operator: "In", values: NON_RETRYABLE_EXIT_CODES } },
          // Preemption and node drains are not the workload's fault; they do not count against backoffLimit and the
          // replacement pod resumes from the last checkpoint.
          { action: "Ignore", onPodConditions: [{ type: "DisruptionTarget", status: "True" }] },
        ],
      },
      template: {
        metadata: { labels, annotations },
        spec: {
          restartPolicy: "Never",
          automountServiceAccountToken: false,
          ...(opts.serviceAccountName ? { serviceAccountName: opts.serviceAccountName } : {}),
          ...(opts.imagePullSecrets.length ? { imagePullSecrets: opts.imagePullSecrets.map((name) => ({ name })) } : {}),
          ...(multiNode ? { subdomain: serviceNameFor(jobName) } : {}),
          // Time for the training loop to write a checkpoint after SIGTERM (cancel, preemption) and exit 75.
          terminationGracePeriodSeconds: 120,
          ...(Object.keys(nodeSelector).length ? { nodeSelector } : {}),
          ...(tolerations.length ? { tolerations } : {}),
          ...(r.spot
            ? {
                affinity: {
                  nodeAffinity: {
                    requiredDuringSchedulingIgnoredDuringExecution: {
                      nodeSelectorTerms: [{ matchExpressions: [{ key: opts.spot.nodeSelector.key, operator: "In", values: [opts.spot.nodeSelector.value] }] }],
                    },
                  },
                },
              }
            : {}),
          containers: [
            {
              name: CONTAINER_NAME,
              image: opts.image,
              imagePullPolicy: opts.imagePullPolicy,
              command: commandFor(spec, paths.jobJson),
              workingDir: paths.dir,
              env: envFor(spec, jobName, opts),
              resources,
              volumeMounts: mounts,
              securityContext: { allowPrivilegeEscalation: false },
            },
          ],
          volumes,
        },
      },
    },
  };

  const secret: V1Secret | null = hasSecretEnv
    ? {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: secretNameFor(jobName), namespace: opts.namespace, labels },
        type: "Opaque",
        stringData: Object.fromEntries(Object.entries(spec.env).filter(([k]) => isSecretEnv(k))),
      }
    : null;

  const service: V1Service | null = multiNode
    ? {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: serviceNameFor(jobName), namespace: opts.namespace, labels },
        spec: {
          clusterIP: "None",
          // Rank 0 must resolve before its pod is Ready, or the other ranks cannot join the rendezvous.
          publishNotReadyAddresses: true,
          selector: { [LABELS.job]: jobName },
          ports: [{ name: "rendezvous", port: MASTER_PORT, targetPort: MASTER_PORT, protocol: "TCP" }],
        },
      }
    : null;

  if (!usesJobSet(spec, opts)) return { job, secret, service, jobSet: null };

  // The same Indexed Job as the template of a JobSet's one replicated job. A failed rank fails its Job at once
  // (backoffLimit 0) and the JobSet restarts every rank — torchrun's rendezvous cannot take one rank coming back
  // alone. Exit codes 2/3 fail the Job through its podFailurePolicy (reason PodFailurePolicy), which fails the JobSet
  // without restarts; preemptions stay ignored. The JobSet makes the headless Service (network.subdomain).
  const { ttlSecondsAfterFinished: _ttl, ...childSpec } = job.spec!;
  const { subdomain: _subdomain, ...podSpec } = childSpec.template.spec!;
  const jobSet: TJobSet = {
    apiVersion: JOBSET_API.apiVersion,
    kind: "JobSet",
    metadata: { name: jobName, namespace: opts.namespace, labels, annotations },
    spec: {
      network: { enableDNSHostnames: true, subdomain: jobName, publishNotReadyAddresses: true },
      successPolicy: { operator: "All" },
      failurePolicy: { maxRestarts: opts.backoffLimit, rules: [{ name: "bad-config-or-data", action: "FailJobSet", onJobFailureReasons: ["PodFailurePolicy"] }] },
      ttlSecondsAfterFinished: opts.ttlSecondsAfterFinished,
      replicatedJobs: [
        {
          name: JOBSET_REPLICATED_JOB,
          replicas: 1,
          template: { metadata: { labels, annotations }, spec: { ...childSpec, backoffLimit: 0, template: { ...childSpec.template, spec: podSpec } } },
        },
      ],
    },
  };
  return { job, secret, service: null, jobSet };
}

/** Makes a dependent object go away with its Job or JobSet (the garbage collector deletes it with its owner). */
export function ownedBy<T extends { metadata?: { ownerReferences?: V1OwnerReference[] } }>(
  obj: T,
  owner: { name: string; uid: string; apiVersion?: string; kind?: string },
): T {
  const ref = { apiVersion: owner.apiVersion ?? "batch/v1", kind: owner.kind ?? "Job", name: owner.name, uid: owner.uid, controller: false, blockOwnerDeletion: false };
  return { ...obj, metadata: { ...obj.metadata, ownerReferences: [ref] } };
}
