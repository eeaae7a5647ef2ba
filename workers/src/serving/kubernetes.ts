// vLLM on Kubernetes through @kubernetes/client-node: check-then-create (or replace) of the deterministic objects
// from kubernetes-manifests.ts, a readiness wait on the Deployment, and adapters loaded on every ready pod.
import path from "node:path";
import { AppsV1Api, AutoscalingV2Api, BatchV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig, PolicyV1Api } from "@kubernetes/client-node";
import { adapterPathInVllm, adapterSyncJob, VLLM_PORT, vllmManifests, type TVllmSpec } from "./kubernetes-manifests.ts";
import { postLora, type TInstanceRef, type TServingBackend, type TServingTarget } from "./types.ts";

export interface TKubernetesServingOptions {
  kubeConfig: KubeConfig;
  /** Cluster-specific settings (image, GPUs, volumes, autoscaler) for a target. */
  specFor(target: TServingTarget): Omit<TVllmSpec, "namespace" | "environmentId" | "baseModel">;
  readyTimeoutMs?: number;
  pollMs?: number;
  /** Port the pods answer on (tests point it at a local fake). */
  podPort?: number;
  /** SERVING_API_KEY: sent as a bearer token on adapter load/unload (vLLM runs with --api-key from the Secret). */
  apiKey?: string | undefined;
  /** Adapter delivery: the runtime image that runs `sync-adapter`, and the artifacts volume adapters are copied from. */
  adapterDelivery: {
    image: string;
    imagePullPolicy?: "Always" | "IfNotPresent" | "Never";
    artifactsVolumeClaim: string;
    /** The claim vLLM pods mount at /adapters (the same as the specs' adaptersVolumeClaim). */
    adaptersVolumeClaim: string;
    /** Where the workers mount that volume: artifact URIs are file://<this>/<path inside the volume>. */
    artifactsRoot: string;
  };
}

/** The adapter folder's path inside the artifacts volume; anything outside it (or `..`) is refused. */
export function artifactSubPath(adapterUri: string, artifactsRoot: string): string {
  const raw = adapterUri.replace(/^file:\/\//, "");
  const root = path.posix.resolve(artifactsRoot);
  const full = path.posix.resolve(root, raw);
  if (!raw.startsWith("/") || !full.startsWith(`${root}/`)) throw new Error(`adapter ${adapterUri} is not on the artifacts volume (${root})`);
  return path.posix.relative(root, full);
}

const isNotFound = (error: unknown) => (error as { code?: number }).code === 404;

/** Reads the object; creates it when missing, replaces its spec (keeping resourceVersion) when present. */
async function upsert<T extends { metadata?: { resourceVersion?: string } }>(read: () => Promise<T>, create: () => Promise<unknown>, replace: (rv: string | undefined) => Promise<unknown>): Promise<void> {
  let current: T;
  try {
    current = await read();
  } catch (error) {
    if (!isNotFound(error)) throw error;
    await create();
    return;
  }
  await replace(current.metadata?.resourceVersion);
}

export function createKubernetesServingBackend(o: TKubernetesServingOptions): TServingBackend {
  const apps = o.kubeConfig.makeApiClient(AppsV1Api);
  const core = o.kubeConfig.makeApiClient(CoreV1Api);
  const policy = o.kubeConfig.makeApiClient(PolicyV1Api);
  const autoscaling = o.kubeConfig.makeApiClient(AutoscalingV2Api);
  const custom = o.kubeConfig.makeApiClient(CustomObjectsApi);
  const batch = o.kubeConfig.makeApiClient(BatchV1Api);
  const podPort = o.podPort ?? VLLM_PORT;

  function parse(ref: TInstanceRef): { namespace: string; name: string } {
    const [namespace, name] = ref.externalId.split("/");
    if (!namespace || !name) throw new Error(`not a Kubernetes instance: ${ref.externalId}`);
    return { namespace, name };
  }

  async function podUrls(ref: TInstanceRef): Promise<string[]> {
    const { namespace, name } = parse(ref);
    const ep = await core.readNamespacedEndpoints({ name, namespace });
    const ips = (ep.subsets ?? []).flatMap((s) => (s.addresses ?? []).map((a) => a.ip));
    if (ips.length === 0) throw new Error(`service ${namespace}/${name} has no ready pods`);
    return ips.map((ip) => `http://${ip}:${podPort}`);
  }

  /** Creates the delivery Job unless it exists (adopting one made before a restart) and waits for its verdict. */
  async function deliverAdapter(job: ReturnType<typeof adapterSyncJob>): Promise<void> {
    const name = job.metadata!.name!;
    const namespace = job.metadata!.namespace!;
    try {
      await batch.createNamespacedJob({ namespace, body: job.toJSON() as never });
    } catch (error) {
      if ((error as { code?: number }).code !== 409) throw error;
    }
    const deadline = Date.now() + (o.readyTimeoutMs ?? 30 * 60_000);
    for (;;) {
      const status = (await batch.readNamespacedJob({ name, namespace })).status;
      if ((status?.succeeded ?? 0) >= 1) return;
      const failed = status?.conditions?.find((c) => c.type === "Failed" && c.status === "True");
      if (failed) throw new Error(`adapter delivery Job ${namespace}/${name} failed: ${failed.reason ?? ""} ${failed.message ?? ""}`.trim());
      if (Date.now() > deadline) throw new Error(`adapter delivery Job ${namespace}/${name} did not finish in time`);
      await new Promise((r) => setTimeout(r, o.pollMs ?? 2_000));
    }
  }

  return {
    kind: "kubernetes",
    async ensure(target, _existing, signal) {
      const m = vllmManifests({ ...o.specFor(target), namespace: target.namespace, environmentId: target.environmentId, baseModel: target.baseModel });
      const namespace = target.namespace;
      const name = m.name;
      await upsert(
        () => apps.readNamespacedDeployment({ name, namespace }),
        () => apps.createNamespacedDeployment({ namespace, body: m.deployment.toJSON() as never }),
        (rv) => apps.replaceNamespacedDeployment({ name, namespace, body: { ...(m.deployment.toJSON() as object), metadata: { ...m.deployment.metadata, resourceVersion: rv } } as never }),
      );
      await upsert(
        () => core.readNamespacedService({ name, namespace }),
        () => core.createNamespacedService({ namespace, body: m.service.toJSON() as never }),
        // A Service's clusterIP is immutable; it has nothing else that changes between versions of the manifest.
        async () => undefined,
      );
      await upsert(
        () => policy.readNamespacedPodDisruptionBudget({ name, namespace }),
        () => policy.createNamespacedPodDisruptionBudget({ namespace, body: m.pdb.toJSON() as never }),
        (rv) => policy.replaceNamespacedPodDisruptionBudget({ name, namespace, body: { ...(m.pdb.toJSON() as object), metadata: { ...m.pdb.metadata, resourceVersion: rv } } as never }),
      );
      if (m.hpa) {
        const hpa = m.hpa;
        await upsert(
          () => autoscaling.readNamespacedHorizontalPodAutoscaler({ name, namespace }),
          () => autoscaling.createNamespacedHorizontalPodAutoscaler({ namespace, body: hpa.toJSON() as never }),
          (rv) => autoscaling.replaceNamespacedHorizontalPodAutoscaler({ name, namespace, body: { ...(hpa.toJSON() as object), metadata: { ...hpa.metadata, resourceVersion: rv } } as never }),
        );
      }
      if (m.scaledObject) {
        const so = m.scaledObject;
        const co = { group: "keda.sh", version: "v1alpha1", namespace, plural: "scaledobjects" };
        await upsert(
          () => custom.getNamespacedCustomObject({ ...co, name }) as Promise<{ metadata?: { resourceVersion?: string } }>,
          () => custom.createNamespacedCustomObject({ ...co, body: so.toJSON() }),
          (rv) => custom.replaceNamespacedCustomObject({ ...co, name, body: { ...(so.toJSON() as object), metadata: { ...so.metadata, resourceVersion: rv } } }),
        );
      }
      const deadline = Date.now() + (o.readyTimeoutMs ?? 30 * 60_000);
      for (;;) {
        const d = await apps.readNamespacedDeployment({ name, namespace });
        if ((d.status?.readyReplicas ?? 0) >= 1) break;
        if (signal?.aborted) throw new Error("aborted while waiting for the vLLM Deployment");
        if (Date.now() > deadline) throw new Error(`vLLM Deployment ${namespace}/${name} has no ready replica after ${Math.round((o.readyTimeoutMs ?? 1_800_000) / 1000)}s`);
        await new Promise((r) => setTimeout(r, o.pollMs ?? 5_000));
      }
      return { url: `http://${name}.${namespace}.svc:${VLLM_PORT}`, externalId: `${namespace}/${name}` };
    },
    async loadAdapter(instance, adapterName, adapterUri, sha256) {
      // vLLM pods mount only the models and adapters volumes: the adapter is first delivered onto the adapters volume
      // (verified against its digest), and vLLM is given that path, never a path on the artifacts volume.
      if (!sha256) throw new Error(`adapter ${adapterName} has no registered digest: it cannot be verified, so it is not delivered`);
      const { namespace } = parse(instance);
      await deliverAdapter(adapterSyncJob({
        namespace,
        servedName: adapterName,
        sha256,
        sourceSubPath: artifactSubPath(adapterUri, o.adapterDelivery.artifactsRoot),
        image: o.adapterDelivery.image,
        ...(o.adapterDelivery.imagePullPolicy ? { imagePullPolicy: o.adapterDelivery.imagePullPolicy } : {}),
        artifactsVolumeClaim: o.adapterDelivery.artifactsVolumeClaim,
        adaptersVolumeClaim: o.adapterDelivery.adaptersVolumeClaim,
      }));
      const urls = await podUrls(instance);
      await Promise.all(urls.map((u) => postLora(u, "load", { lora_name: adapterName, lora_path: adapterPathInVllm(adapterName) }, o.apiKey)));
    },
    async unloadAdapter(instance, adapterName) {
      const urls = await podUrls(instance);
      await Promise.all(urls.map((u) => postLora(u, "unload", { lora_name: adapterName }, o.apiKey)));
    },
    async stop(instance) {
      const { namespace, name } = parse(instance);
      const ignore404 = (e: unknown) => {
        if (!isNotFound(e)) throw e;
      };
      await apps.deleteNamespacedDeployment({ name, namespace }).catch(ignore404);
      await core.deleteNamespacedService({ name, namespace }).catch(ignore404);
      await policy.deleteNamespacedPodDisruptionBudget({ name, namespace }).catch(ignore404);
      await autoscaling.deleteNamespacedHorizontalPodAutoscaler({ name, namespace }).catch(ignore404);
      await custom.deleteNamespacedCustomObject({ group: "keda.sh", version: "v1alpha1", namespace, plural: "scaledobjects", name }).catch(ignore404);
    },
  };
}
