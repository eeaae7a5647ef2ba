// Kubernetes executor: one batch/v1 Job per (run, stage, attempt), created check-then-create under a deterministic
// name so a repeated launch adopts the existing Job. The worker and the Jobs share the artifacts volume (a
// ReadWriteMany PVC): the worker writes job.json there before creating the Job and reads eval_report.json from it
// afterwards. Workloads report metrics and heartbeats over HTTP (LORAPLANE_URL + the per-run token from a Secret), so
// there is no event stream to read while a Job runs; the one event the stage runner needs — the final
// {"event":"result"} stdout line — is read from the finished pod's log (kept for ttlSecondsAfterFinished).
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { ApiException, BatchV1Api, CoreV1Api, CustomObjectsApi, KubeConfig, type V1Condition, type V1Job, type V1Pod } from "@kubernetes/client-node";
import type { TExecutor, TWorkloadHandle, TWorkloadSpec, TWorkloadState } from "../types.ts";
import { JobCache } from "./job-cache.ts";
import { buildWorkloadManifests, CONTAINER_NAME, JOBSET_API, MOUNTS, mountRootsFor, ownedBy, podPathsFor, type TJobSet, type TKubernetesJobOptions } from "./manifests.ts";
import { COMPLETION_INDEX_ANNOTATION, jobNameFor, LABELS, MANAGED_BY } from "./names.ts";

export interface TKubernetesExecutorOptions extends TKubernetesJobOptions {
  kubeConfig: KubeConfig;
  /** The worker's own mount of the artifacts PVC (the pods see it at /runs). */
  artifactsDir: string;
  /** The worker's own read-only mount of the data PVC (the pods see their project's part of it under /data); the
   *  prepare stage verifies dataset digests there. Without it no dataset can be verified, so every run fails prepare. */
  dataDir?: string | undefined;
  /** Lines of the finished pod's log searched for the result event. */
  resultTailLines?: number;
  watchRetryDelayMs?: number;
  onError?: (error: unknown) => void;
}

export type TKubernetesExecutor = TExecutor & {
  /** Stops the background watch. */
  close(): void;
  /** For tests and metrics: the Job cache's list/watch counters. */
  readonly cache: JobCache;
};

/** In-cluster service account when K8S_IN_CLUSTER=true, otherwise $KUBECONFIG / ~/.kube/config. */
export function loadKubeConfig(inCluster: boolean): KubeConfig {
  const kc = new KubeConfig();
  if (inCluster) kc.loadFromCluster();
  else kc.loadFromDefault();
  return kc;
}

/** Parses K8S_SPOT_NODE_SELECTOR ("key=value") and K8S_SPOT_TOLERATION ("key[=value]:Effect"), validated by config. */
export function spotPlacement(selector: string, toleration: string): TKubernetesJobOptions["spot"] {
  const [key = "", value = ""] = selector.split("=");
  const [taint = "", effect = "NoSchedule"] = toleration.split(":");
  const [tKey = "", tValue] = taint.split("=");
  return { nodeSelector: { key, value }, toleration: { key: tKey, value: tValue, effect } };
}

export function apiStatus(error: unknown): number | null {
  if (error instanceof ApiException) return error.code;
  const code = (error as { code?: unknown; statusCode?: unknown } | null)?.statusCode;
  return typeof code === "number" ? code : null;
}

/** A JobSet as read back: what we sent plus the controller's status. */
type TJobSetObject = TJobSet & { metadata: { uid?: string }; status?: { conditions?: V1Condition[] } };

function conditionOf(obj: { status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] } }, type: string) {
  return obj.status?.conditions?.find((c) => c.type === type && c.status === "True");
}

function terminatedOf(pod: V1Pod) {
  const cs = pod.status?.containerStatuses?.find((c) => c.name === CONTAINER_NAME);
  return cs?.state?.terminated ?? cs?.lastState?.terminated;
}

const finishedAt = (pod: V1Pod) => new Date(terminatedOf(pod)?.finishedAt ?? pod.metadata?.creationTimestamp ?? 0).getTime();
const rankOf = (pod: V1Pod) => pod.metadata?.annotations?.[COMPLETION_INDEX_ANNOTATION] ?? pod.metadata?.labels?.[COMPLETION_INDEX_ANNOTATION];

/**
 * Turns a stage input into the path the pod sees; only paths under what the Job mounts exist inside the pod: its own
 * run's directory, its project's datasets and the models volume (mountRootsFor).
 */
export function podPath(value: string, field: string, roots: readonly (string | null)[]): string {
  const p = value.startsWith("file://") ? decodeURIComponent(new URL(value).pathname) : value;
  if (/^[a-z][a-z0-9+.-]*:\/\//.test(p)) throw new Error(`${field}: the kubernetes executor reads inputs from mounted volumes; ${value} is not a path`);
  if (!path.posix.isAbsolute(p)) throw new Error(`${field}: ${value} must be an absolute path inside the pod`);
  if (p.split("/").some((seg) => seg === "..")) throw new Error(`${field}: ${value} must not contain .. segments`);
  const mounted = roots.filter((r): r is string => r !== null);
  const normal = path.posix.normalize(p);
  if (!mounted.some((r) => normal === r || normal.startsWith(`${r}/`))) {
    throw new Error(`${field}: ${value} is on no volume mounted in the Job (mounted: ${mounted.join(", ")}; set K8S_MODELS_PVC / K8S_DATA_PVC)`);
  }
  return normal;
}

export function createKubernetesExecutor(options: TKubernetesExecutorOptions): TKubernetesExecutor {
  const ns = options.namespace;
  const batch = options.kubeConfig.makeApiClient(BatchV1Api);
  const core = options.kubeConfig.makeApiClient(CoreV1Api);
  const custom = options.kubeConfig.makeApiClient(CustomObjectsApi);
  const jobSets = { group: JOBSET_API.group, version: JOBSET_API.version, plural: JOBSET_API.plural, namespace: ns };
  const cache = new JobCache({
    kubeConfig: options.kubeConfig,
    batch,
    namespace: ns,
    labelSelector: `${LABELS.managedBy}=${MANAGED_BY}`,
    retryDelayMs: options.watchRetryDelayMs ?? 1000,
    ...(options.onError ? { onError: options.onError } : {}),
  });
  // Why each finished Job failed (for tailLogs) and its result events (read once from the pod log).
  const failures = new Map<string, string>();
  const events = new Map<string, string[]>();
  const finished = new Set<string>();
  const remember = <K, V>(map: Map<K, V> | Set<K>, key: K, value?: V) => {
    if (map.size > 512) map.delete(map.keys().next().value as K);
    if (map instanceof Set) map.add(key);
    else map.set(key, value as V);
  };

  const nameOf = (h: TWorkloadHandle) => h.externalId.slice(h.externalId.indexOf("/") + 1);
  const localDir = (runId: string, stage: string, attempt: number) => path.join(path.resolve(options.artifactsDir), runId, `${stage}-${attempt}`);

  const handleFor: TExecutor["handleFor"] = (s) => ({
    externalId: `${ns}/${jobNameFor(s.runId, s.stage, s.attempt)}`,
    outputDir: podPathsFor(s.runId, s.stage, s.attempt).outputDir,
  });

  async function readJob(name: string): Promise<V1Job | null> {
    try {
      return await batch.readNamespacedJob({ name, namespace: ns });
    } catch (error) {
      if (apiStatus(error) === 404) return null;
      throw error;
    }
  }

  async function readJobSet(name: string): Promise<TJobSetObject | null> {
    if (options.multiNodeEngine !== "jobset") return null;
    try {
      return (await custom.getNamespacedCustomObject({ ...jobSets, name })) as TJobSetObject;
    } catch (error) {
      if (apiStatus(error) === 404) return null;
      throw error;
    }
  }

  /** Create-or-adopt of a multi-node attempt's JobSet; its Secret is owned by the JobSet. */
  async function launchJobSet(body: TJobSet): Promise<{ obj: TJobSetObject; launched: boolean }> {
    const name = body.metadata.name;
    const existing = await readJobSet(name);
    if (existing) return { obj: existing, launched: false };
    try {
      return { obj: (await custom.createNamespacedCustomObject({ ...jobSets, body })) as TJobSetObject, launched: true };
    } catch (error) {
      const status = apiStatus(error);
      if (status === 404) {
        throw new Error(`the cluster does not serve ${JOBSET_API.apiVersion} JobSets: install JobSet (https://jobset.sigs.k8s.io) or set K8S_MULTINODE_ENGINE=indexed-job`, { cause: error });
      }
      if (status !== 409) throw error;
      const adopted = await readJobSet(name);
      if (!adopted) throw new Error(`JobSet ${ns}/${name} was reported to exist but cannot be read`, { cause: error });
      return { obj: adopted, launched: false };
    }
  }

  async function currentJob(name: string): Promise<V1Job | null> {
    if (!cache.synced) await cache.start().catch((error: unknown) => options.onError?.(error));
    return cache.get(name) ?? (await readJob(name));
  }

  async function podsOf(name: string): Promise<V1Pod[]> {
    const list = await core.listNamespacedPod({ namespace: ns, labelSelector: `${LABELS.job}=${name}` });
    return list.items;
  }

  /** The pod whose log speaks for the Job: rank 0 of the newest attempt, succeeded ones first. */
  async function primaryPod(name: string): Promise<V1Pod | null> {
    const pods = (await podsOf(name)).filter((p) => rankOf(p) === undefined || rankOf(p) === "0");
    pods.sort((a, b) => Number(b.status?.phase === "Succeeded") - Number(a.status?.phase === "Succeeded") || finishedAt(b) - finishedAt(a));
    return pods[0] ?? null;
  }

  function assertOurs(labels: Record<string, string>, what: string, spec: TWorkloadSpec): void {
    if (labels[LABELS.managedBy] !== MANAGED_BY || labels[LABELS.stage] !== spec.stage || labels[LABELS.attempt] !== String(spec.attempt)) {
      throw new Error(`${what} exists but was not created by Loraplane for ${spec.runId}/${spec.stage}/${spec.attempt}`);
    }
  }

  async function ensure(kind: string, create: () => Promise<unknown>): Promise<void> {
    try {
      await create();
    } catch (error) {
      // Created by an earlier launch of the same attempt: what exists is what that launch made.
      if (apiStatus(error) !== 409) throw new Error(`creating the ${kind} failed: ${(error as Error).message}`, { cause: error });
    }
  }

  return {
    kind: "kubernetes",
    dataRoot: MOUNTS.data,
    cache,
    handleFor,
    close: () => cache.stop(),

    async launch(spec: TWorkloadSpec) {
      if (!/^[A-Za-z0-9_-]+$/.test(spec.runId)) throw new Error(`run id ${spec.runId} cannot name a directory`);
      const handle = handleFor(spec);
      const name = nameOf(handle);
      const jobPaths = spec.job.paths as Record<string, string | null | undefined> | undefined;
      const paths: Record<string, string> = {};
      const roots = mountRootsFor(spec, options);
      const inputRoots = [roots.run, roots.datasets, roots.models];
      for (const [key, value] of Object.entries(jobPaths ?? {})) if (typeof value === "string") paths[key] = podPath(value, `paths.${key}`, inputRoots);
      const pod = podPathsFor(spec.runId, spec.stage, spec.attempt);

      // job.json first, atomically: a pod that starts must find the complete file.
      const dir = localDir(spec.runId, spec.stage, spec.attempt);
      await mkdir(path.join(dir, "output"), { recursive: true });
      await writeFile(path.join(dir, "job.json.tmp"), JSON.stringify({ ...spec.job, paths: { ...paths, outputDir: pod.outputDir } }, null, 2));
      await rename(path.join(dir, "job.json.tmp"), path.join(dir, "job.json"));

      const manifests = buildWorkloadManifests(spec, name, options);
      if (manifests.jobSet) {
        const { obj, launched } = await launchJobSet(manifests.jobSet);
        assertOurs(obj.metadata.labels ?? {}, `JobSet ${ns}/${name}`, spec);
        const owner = { name, uid: obj.metadata.uid!, apiVersion: JOBSET_API.apiVersion, kind: "JobSet" };
        if (manifests.secret) await ensure("run Secret", () => core.createNamespacedSecret({ namespace: ns, body: ownedBy(manifests.secret!, owner) }));
        return { ...handle, launched };
      }
      let job = await readJob(name);
      let launched = false;
      if (!job) {
        try {
          job = await batch.createNamespacedJob({ namespace: ns, body: manifests.job });
          launched = true;
        } catch (error) {
          if (apiStatus(error) !== 409) throw error;
          job = await readJob(name);
          if (!job) throw new Error(`Job ${ns}/${name} was reported to exist but cannot be read`, { cause: error });
        }
      }
      assertOurs(job.metadata?.labels ?? {}, `Job ${ns}/${name}`, spec);
      // The dependents carry an ownerReference to the Job (so they need its uid and come second): deleting the Job
      // deletes them. Pods of a just-created Job wait (CreateContainerConfigError, retried by the kubelet) until the
      // Secret exists; a worker that crashes in between creates it when it adopts the Job.
      const owner = { name, uid: job.metadata!.uid! };
      if (manifests.secret) await ensure("run Secret", () => core.createNamespacedSecret({ namespace: ns, body: ownedBy(manifests.secret!, owner) }));
      if (manifests.service) await ensure("headless Service", () => core.createNamespacedService({ namespace: ns, body: ownedBy(manifests.service!, owner) }));
      return { ...handle, launched };
    },

    async state(handle): Promise<TWorkloadState> {
      const name = nameOf(handle);
      // A multi-node attempt under K8S_MULTINODE_ENGINE=jobset is a JobSet of the same name (its child Job is
      // `<name>-n-0`); its conditions are Completed / Failed rather than Complete / Failed.
      const job = (await currentJob(name)) ?? (await readJobSet(name));
      if (!job) return { phase: "lost", reason: `Job ${handle.externalId} no longer exists (deleted, or removed after ttlSecondsAfterFinished)` };
      if (conditionOf(job, "Complete") ?? conditionOf(job, "Completed")) {
        remember(finished, name);
        return { phase: "exited", exitCode: 0 };
      }
      const failed = conditionOf(job, "Failed");
      if (!failed) return { phase: "running" };
      const reason = `Job failed: ${failed.reason ?? "unknown reason"}${failed.message ? ` (${failed.message})` : ""}`;
      remember(failures, name, reason);
      remember(finished, name);
      // DeadlineExceeded is the Job's own timeout: its pods were killed, whatever code they left is not the cause.
      if (failed.reason !== "DeadlineExceeded") {
        const exits = (await podsOf(name))
          .filter((p) => (terminatedOf(p)?.exitCode ?? 0) !== 0)
          .sort((a, b) => finishedAt(b) - finishedAt(a));
        const code = exits[0] ? terminatedOf(exits[0])!.exitCode : undefined;
        if (code !== undefined) return { phase: "exited", exitCode: code };
      }
      return { phase: "lost", reason };
    },

    async readEvents(handle, offset) {
      const name = nameOf(handle);
      // Running workloads report over HTTP; only a finished pod's log is complete and immutable, so it is read once.
      if (!finished.has(name)) return { lines: [], offset };
      let lines = events.get(name);
      if (!lines) {
        const pod = await primaryPod(name);
        let text = "";
        if (pod?.metadata?.name) {
          try {
            text = await core.readNamespacedPodLog({ name: pod.metadata.name, namespace: ns, container: CONTAINER_NAME, tailLines: options.resultTailLines ?? 2000 });
          } catch (error) {
            if (apiStatus(error) !== 404 && apiStatus(error) !== 400) throw error;
          }
        }
        lines = text.split("\n").filter((l) => l.startsWith("{") && l.includes('"event"'));
        remember(events, name, lines);
      }
      return { lines: lines.slice(offset), offset: Math.max(offset, lines.length) };
    },

    async tailLogs(handle, lines) {
      const name = nameOf(handle);
      const out: string[] = [];
      const failure = failures.get(name);
      if (failure) out.push(`[kubernetes] ${failure}`);
      const pod = await primaryPod(name).catch(() => null);
      if (!pod?.metadata?.name) return [...out, `[kubernetes] no pod of Job ${handle.externalId} is left to read logs from`];
      const waiting = pod.status?.containerStatuses?.find((c) => c.name === CONTAINER_NAME)?.state?.waiting;
      if (waiting?.reason) out.push(`[kubernetes] pod ${pod.metadata.name}: ${waiting.reason}${waiting.message ? `: ${waiting.message}` : ""}`);
      try {
        const text = await core.readNamespacedPodLog({ name: pod.metadata.name, namespace: ns, container: CONTAINER_NAME, tailLines: lines });
        out.push(...text.split("\n").filter((l) => l.trim() !== ""));
      } catch (error) {
        out.push(`[kubernetes] logs of pod ${pod.metadata.name} are not available (HTTP ${apiStatus(error) ?? "error"})`);
      }
      return out;
    },

    async cancel(handle) {
      try {
        // Background: the Job goes now, the garbage collector removes its pods (SIGTERM → checkpoint), Secret and
        // Service after it.
        await batch.deleteNamespacedJob({ name: nameOf(handle), namespace: ns, propagationPolicy: "Background" });
      } catch (error) {
        if (apiStatus(error) !== 404) throw error;
      }
      if (options.multiNodeEngine === "jobset") {
        try {
          await custom.deleteNamespacedCustomObject({ ...jobSets, name: nameOf(handle), propagationPolicy: "Background" });
        } catch (error) {
          if (apiStatus(error) !== 404) throw error;
        }
      }
    },

    logsUri(handle) {
      // Pod logs stay in the cluster (until ttlSecondsAfterFinished); the worker copies their tail into stage errors.
      return `kubernetes://${ns}/jobs/${handle.externalId}`;
    },

    hostPath(workloadPath) {
      // The worker mounts the artifacts volume (artifactsDir) and, when configured, the data volume (dataDir); the
      // models volume is never read by the worker.
      const p = path.posix.normalize(workloadPath.startsWith("file://") ? decodeURIComponent(new URL(workloadPath).pathname) : workloadPath);
      const mounts: [string, string | undefined][] = [[MOUNTS.runs, options.artifactsDir], [MOUNTS.data, options.dataDir]];
      for (const [mount, local] of mounts) {
        if (!local || !p.startsWith(`${mount}/`)) continue;
        const base = path.resolve(local);
        const file = path.resolve(base, path.posix.relative(mount, p));
        return file.startsWith(`${base}${path.sep}`) ? file : null;
      }
      return null;
    },
    async readOutputFile(handle, relativePath) {
      const runs = path.resolve(options.artifactsDir);
      const relative = path.posix.relative(MOUNTS.runs, path.posix.join(handle.outputDir, relativePath));
      const file = path.resolve(runs, relative);
      if (relative.startsWith("..") || !file.startsWith(`${runs}${path.sep}`)) throw new Error(`${relativePath} is outside the artifacts volume`);
      try {
        return await readFile(file, "utf8");
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
        throw error;
      }
    },
  };
}
