// vLLM on Kubernetes: one Deployment + Service + PodDisruptionBudget + autoscaler per (environment, base model).
// LoRA adapters are not baked into pods: they are loaded at runtime (POST /v1/load_lora_adapter on every ready pod)
// and, for pods started later by the autoscaler, found by vLLM's filesystem LoRA resolver on the adapters volume.
import { createHash } from "node:crypto";
import { HTTPRoute } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1";
import { ScaledObject } from "@kubernetes-models/keda/keda.sh/v1alpha1";
import { Deployment } from "kubernetes-models/apps/v1";
import { Job } from "kubernetes-models/batch/v1";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { Service } from "kubernetes-models/v1";

export const VLLM_PORT = 8000;
/** The adapters volume inside vLLM pods (and the delivery Job); vLLM's filesystem LoRA resolver reads it too. */
export const ADAPTERS_MOUNT = "/adapters";

export interface TVllmSpec {
  namespace: string;
  environmentId: string;
  /** Path of the base model inside the model volume, e.g. /models/Qwen2.5-7B-Instruct. */
  baseModel: string;
  image: string;
  gpus: number;
  replicas: number;
  maxReplicas: number;
  modelVolumeClaim: string;
  adaptersVolumeClaim: string;
  maxLoras: number;
  maxLoraRank: number;
  /** Queue depth per pod the autoscaler aims at. */
  targetWaitingPerPod: number;
  autoscaler: "hpa" | "keda" | "none";
  prometheusUrl?: string;
  cpu?: string;
  memory?: string;
  /** Longest time a pod may take to load the model before it is restarted. */
  startupSeconds?: number;
  /** Secret in the namespace whose key "api-key" vLLM requires as a bearer token (--api-key): never inlined. */
  apiKeySecret: string;
}

/** Deterministic, DNS-1123 name: the same (environment, base model) always maps to the same objects. */
export function vllmName(environmentId: string, baseModel: string): string {
  const slug = baseModel.split("/").filter(Boolean).at(-1)!.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 40) || "model";
  const hash = createHash("sha256").update(`${environmentId}\u0000${baseModel}`).digest("hex").slice(0, 8);
  return `vllm-${slug}-${hash}`;
}

export function vllmManifests(spec: TVllmSpec) {
  const name = vllmName(spec.environmentId, spec.baseModel);
  const labels = { "app.kubernetes.io/name": "vllm", "app.kubernetes.io/instance": name, "app.kubernetes.io/managed-by": "loraplane" };
  const metadata = { name, namespace: spec.namespace, labels };
  const startupSeconds = spec.startupSeconds ?? 1800;
  const probe = { httpGet: { path: "/health", port: VLLM_PORT } };
  const deployment = new Deployment({
    metadata,
    spec: {
      replicas: spec.replicas,
      selector: { matchLabels: { "app.kubernetes.io/instance": name } },
      // New pods come up before old ones go: serving capacity never dips during a rollout of the base image.
      strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        metadata: { labels, annotations: { "prometheus.io/scrape": "true", "prometheus.io/port": String(VLLM_PORT), "prometheus.io/path": "/metrics" } },
        spec: {
          terminationGracePeriodSeconds: 120,
          containers: [
            {
              name: "vllm",
              image: spec.image,
              args: [
                "--model", spec.baseModel,
                "--served-model-name", "base",
                "--port", String(VLLM_PORT),
                "--enable-lora",
                "--max-loras", String(spec.maxLoras),
                "--max-lora-rank", String(spec.maxLoraRank),
                ...(spec.gpus > 1 ? ["--tensor-parallel-size", String(spec.gpus)] : []),
                // Every /v1 call (inference, load/unload adapters) needs Authorization: Bearer <key>; /health stays open
                // for the probes. The kubelet expands $(VLLM_API_KEY) from the Secret-backed variable below.
                "--api-key", "$(VLLM_API_KEY)",
              ],
              env: [
                { name: "VLLM_API_KEY", valueFrom: { secretKeyRef: { name: spec.apiKeySecret, key: "api-key" } } },
                { name: "VLLM_ALLOW_RUNTIME_LORA_UPDATING", value: "True" },
                { name: "VLLM_PLUGINS", value: "lora_filesystem_resolver" },
                { name: "VLLM_LORA_RESOLVER_CACHE_DIR", value: ADAPTERS_MOUNT },
                { name: "HF_HUB_OFFLINE", value: "1" },
              ],
              ports: [{ name: "http", containerPort: VLLM_PORT }],
              resources: {
                requests: { cpu: spec.cpu ?? "4", memory: spec.memory ?? "32Gi", "nvidia.com/gpu": String(spec.gpus) },
                limits: { memory: spec.memory ?? "32Gi", "nvidia.com/gpu": String(spec.gpus) },
              },
              startupProbe: { ...probe, periodSeconds: 10, failureThreshold: Math.ceil(startupSeconds / 10) },
              readinessProbe: { ...probe, periodSeconds: 5, failureThreshold: 3 },
              livenessProbe: { ...probe, periodSeconds: 15, failureThreshold: 4, timeoutSeconds: 5 },
              volumeMounts: [
                { name: "models", mountPath: "/models", readOnly: true },
                { name: "adapters", mountPath: ADAPTERS_MOUNT, readOnly: true },
                { name: "shm", mountPath: "/dev/shm" },
              ],
            },
          ],
          volumes: [
            { name: "models", persistentVolumeClaim: { claimName: spec.modelVolumeClaim, readOnly: true } },
            { name: "adapters", persistentVolumeClaim: { claimName: spec.adaptersVolumeClaim, readOnly: true } },
            { name: "shm", emptyDir: { medium: "Memory", sizeLimit: "8Gi" } },
          ],
          tolerations: [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }],
        },
      },
    },
  });
  const service = new Service({
    metadata,
    spec: { selector: { "app.kubernetes.io/instance": name }, ports: [{ name: "http", port: VLLM_PORT, targetPort: VLLM_PORT }] },
  });
  const pdb = new PodDisruptionBudget({
    metadata,
    spec: { ...(spec.replicas > 1 ? { minAvailable: 1 } : { maxUnavailable: 0 }), selector: { matchLabels: { "app.kubernetes.io/instance": name } } },
  });
  const scaleTarget = { apiVersion: "apps/v1", kind: "Deployment", name };
  const hpa =
    spec.autoscaler === "hpa"
      ? new HorizontalPodAutoscaler({
          metadata,
          spec: {
            scaleTargetRef: scaleTarget,
            minReplicas: spec.replicas,
            maxReplicas: spec.maxReplicas,
            // Served by prometheus-adapter from vLLM's vllm:num_requests_waiting gauge.
            metrics: [{ type: "Pods", pods: { metric: { name: "vllm_num_requests_waiting" }, target: { type: "AverageValue", averageValue: String(spec.targetWaitingPerPod) } } }],
            behavior: { scaleDown: { stabilizationWindowSeconds: 600 } },
          },
        })
      : null;
  const scaledObject =
    spec.autoscaler === "keda"
      ? new ScaledObject({
          metadata,
          spec: {
            scaleTargetRef: { name },
            minReplicaCount: spec.replicas,
            maxReplicaCount: spec.maxReplicas,
            cooldownPeriod: 600,
            triggers: [
              {
                type: "prometheus",
                metadata: {
                  serverAddress: spec.prometheusUrl ?? "http://prometheus.monitoring.svc:9090",
                  query: `sum(vllm:num_requests_waiting{namespace="${spec.namespace}",pod=~"${name}-.*"})`,
                  threshold: String(spec.targetWaitingPerPod),
                },
              },
            ],
          },
        })
      : null;
  return { name, deployment, service, pdb, hpa, scaledObject };
}

/** The HTTPRoute that carries one endpoint of one environment (traffic provider gateway-api); deterministic. */
export function trafficRouteName(environmentId: string, endpointName: string): string {
  const slug = endpointName.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 30) || "endpoint";
  const hash = createHash("sha256").update(`${environmentId}\u0000${endpointName}`).digest("hex").slice(0, 8);
  return `lp-${slug}-${hash}`;
}

/**
 * A variant's Service: what an HTTPRoute backendRef can weight. Named `<route>-<role>`, so the route's rules that
 * reference one of these are the rules loraplane owns (see gateway-api-traffic.ts).
 */
export function variantServiceName(routeName: string, role: string): string {
  return `${routeName}-${role}`;
}

/** The vLLM Deployment (vllmName) behind a variant, from its upstream URL http://<name>.<namespace>.svc:<port>. */
export function vllmInstanceOf(upstreamUrl: string): string | null {
  let host: string;
  try {
    host = new URL(upstreamUrl).hostname;
  } catch {
    return null;
  }
  const m = host.match(/^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.[a-z0-9-]+\.svc(\.|$)/);
  return m ? m[1]! : null;
}

export function variantService(input: { routeName: string; namespace: string; role: string; instance: string; servedModelName: string }): Service {
  return new Service({
    metadata: {
      name: variantServiceName(input.routeName, input.role),
      namespace: input.namespace,
      labels: { "app.kubernetes.io/managed-by": "loraplane", "loraplane.dev/route": input.routeName, "loraplane.dev/variant-role": input.role },
      annotations: { "loraplane.dev/served-model": input.servedModelName },
    },
    spec: { selector: { "app.kubernetes.io/instance": input.instance }, ports: [{ name: "http", port: VLLM_PORT, targetPort: VLLM_PORT }] },
  });
}

export type THttpRouteRule = NonNullable<NonNullable<HTTPRoute["spec"]>["rules"]>[number];

/** The weighted rule: every /v1 request not pinned goes to one variant Service in proportion to its weight. */
export function splitRule(backends: { service: string; weightBps: number }[]): THttpRouteRule {
  return {
    matches: [{ path: { type: "PathPrefix", value: "/v1" } }],
    backendRefs: backends.map((b) => ({ group: "", kind: "Service", name: b.service, port: VLLM_PORT, weight: b.weightBps })),
  };
}

/** A pin: requests with `header: value` go to one variant (a header match is more specific than the split rule). */
export function pinRule(pin: { header: string; value: string; service: string }): THttpRouteRule {
  return {
    matches: [{ path: { type: "PathPrefix", value: "/v1" }, headers: [{ type: "Exact", name: pin.header, value: pin.value }] }],
    backendRefs: [{ group: "", kind: "Service", name: pin.service, port: VLLM_PORT, weight: 1 }],
  };
}

/** An HTTPRoute attached to the cluster's Gateway with the given rules (pins first, then the split). */
export function trafficHttpRoute(input: { name: string; namespace: string; gateway: { name: string; namespace?: string; sectionName?: string }; hostnames?: string[]; rules: THttpRouteRule[]; annotations?: Record<string, string> }): HTTPRoute {
  return new HTTPRoute({
    metadata: { name: input.name, namespace: input.namespace, labels: { "app.kubernetes.io/managed-by": "loraplane" }, ...(input.annotations ? { annotations: input.annotations } : {}) },
    spec: {
      parentRefs: [{ group: "gateway.networking.k8s.io", kind: "Gateway", name: input.gateway.name, ...(input.gateway.namespace ? { namespace: input.gateway.namespace } : {}), ...(input.gateway.sectionName ? { sectionName: input.gateway.sectionName } : {}) }],
      ...(input.hostnames && input.hostnames.length > 0 ? { hostnames: input.hostnames } : {}),
      rules: input.rules,
    },
  });
}

/** A route with only the weighted rule (variants on different Services); kept for the example manifests' tests. */
export function weightedHttpRoute(input: { name: string; namespace: string; gateway: { name: string; namespace?: string }; hostnames: string[]; backends: { service: string; weightBps: number }[] }) {
  return trafficHttpRoute({ ...input, rules: [splitRule(input.backends)] });
}

/** Where vLLM pods find an adapter: its folder on the adapters volume, named as it is served. */
export function adapterPathInVllm(servedName: string): string {
  return `${ADAPTERS_MOUNT}/${servedName}`;
}

export interface TAdapterSyncSpec {
  namespace: string;
  servedName: string;
  sha256: string;
  /** The adapter folder relative to the root of the artifacts volume (a subPath: nothing else is mounted). */
  sourceSubPath: string;
  image: string;
  imagePullPolicy?: "Always" | "IfNotPresent" | "Never";
  artifactsVolumeClaim: string;
  adaptersVolumeClaim: string;
}

/**
 * Adapter delivery: a short Job that copies one registered adapter from the artifacts volume (its own folder only,
 * read-only) onto the adapters volume that vLLM pods mount, verifying every file against the registered digest
 * (gpu-runtime `sync-adapter`). The name is deterministic per (environment namespace, adapter, digest), so a retried
 * delivery finds the Job it created.
 */
export function adapterSyncJob(spec: TAdapterSyncSpec): Job {
  const hash = createHash("sha256").update(`${spec.namespace}\u0000${spec.servedName}\u0000${spec.sha256}`).digest("hex").slice(0, 10);
  const name = `adapter-sync-${spec.servedName.replace(/[^a-z0-9-]+/g, "-").slice(0, 36).replace(/-+$/, "")}-${hash}`;
  const labels = { "app.kubernetes.io/name": "adapter-sync", "app.kubernetes.io/managed-by": "loraplane" };
  return new Job({
    metadata: { name, namespace: spec.namespace, labels, annotations: { "loraplane.dev/adapter-sha256": spec.sha256 } },
    spec: {
      backoffLimit: 2,
      activeDeadlineSeconds: 1800,
      ttlSecondsAfterFinished: 3600,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: "Never",
          automountServiceAccountToken: false,
          containers: [
            {
              name: "sync",
              image: spec.image,
              ...(spec.imagePullPolicy ? { imagePullPolicy: spec.imagePullPolicy } : {}),
              command: ["python", "-m", "loraplane_runtime.cli", "sync-adapter", "--source", "/source", "--dest-root", ADAPTERS_MOUNT, "--name", spec.servedName, "--sha256", spec.sha256],
              resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "1Gi" } },
              volumeMounts: [
                { name: "artifacts", mountPath: "/source", subPath: spec.sourceSubPath, readOnly: true },
                { name: "adapters", mountPath: ADAPTERS_MOUNT },
              ],
            },
          ],
          volumes: [
            { name: "artifacts", persistentVolumeClaim: { claimName: spec.artifactsVolumeClaim, readOnly: true } },
            { name: "adapters", persistentVolumeClaim: { claimName: spec.adaptersVolumeClaim } },
          ],
        },
      },
    },
  });
}
