import type { TWorkloadSpec } from "../../src/executors/types.ts";
import type { TKubernetesJobOptions } from "../../src/executors/kubernetes/manifests.ts";

export const RUN_TOKEN = "lprt_super-secret-token-value";

export function workloadSpec(over: Partial<TWorkloadSpec> = {}): TWorkloadSpec {
  return {
    runId: "cm9runabc123xyz",
    projectId: "cm9projabc123xyz",
    stage: "train",
    attempt: 1,
    command: "train",
    job: { runId: "cm9runabc123xyz", stage: "train", paths: { baseModel: "/models/qwen2.5-7b", dataDir: "file:///data/projects/cm9projabc123xyz/datasets/demo/v1" }, spec: { training: { learningRate: 0.0002 } } },
    resources: { gpus: 1, cpu: "8", memory: "64Gi", nodeSelector: {}, tolerations: [], spot: false },
    distributed: { nprocPerNode: 1, nnodes: 1, strategy: "ddp" },
    timeoutSeconds: 7200,
    env: { LORAPLANE_URL: "http://loraplane-web.loraplane:3000", LORAPLANE_RUN_TOKEN: RUN_TOKEN },
    ...over,
  };
}

export function jobOptions(over: Partial<TKubernetesJobOptions> = {}): TKubernetesJobOptions {
  return {
    namespace: "loraplane-jobs",
    image: "registry.internal/loraplane/gpu-runtime:0.1.0",
    imagePullPolicy: "IfNotPresent",
    imagePullSecrets: ["regcred"],
    serviceAccountName: "loraplane-workload",
    claims: { models: "models", data: "datasets", artifacts: "loraplane-runs" },
    backoffLimit: 2,
    ttlSecondsAfterFinished: 86_400,
    secretEnv: [{ name: "HF_TOKEN", secretName: "hf-credentials", key: "token" }],
    gpuTypeLabel: "nvidia.com/gpu.product",
    spot: { nodeSelector: { key: "node.kubernetes.io/lifecycle", value: "spot" }, toleration: { key: "node.kubernetes.io/lifecycle", value: "spot", effect: "NoSchedule" } },
    ...over,
  };
}
