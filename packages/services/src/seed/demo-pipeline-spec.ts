// The demo pipeline. Measured on the 200 held-out test rows (gpu-runtime/README.md, "Demo"): the untrained tiny model
// scores rouge_l 0.012 / bleu 0.001, after these 1500 steps 0.214 / 0.471 (exact match only 0.00 → 0.08: the five-task
// mix is learned in form, not yet exactly). The blocking thresholds sit between the two, so the gate passes a trained
// adapter and blocks an untrained or broken one on real metrics; exact match is tracked as advisory. lr 3e-3 diverges.
export const DEMO_PROJECT = { slug: "demo", name: "Demo", description: "Tiny model, generated dataset, canary to prod." };
export const DEMO_DATASET = { name: "demo-instructions", version: "v1" };
export const DEMO_MODEL_DIR = "tiny-qwen2";
export const DEMO_ENVIRONMENTS = [
  { name: "dev", tier: "dev", namespace: "loraplane-dev", requiresApproval: false },
  { name: "staging", tier: "staging", namespace: "loraplane-staging", requiresApproval: false },
  { name: "prod", tier: "prod", namespace: "loraplane-prod", requiresApproval: true },
] as const;

export function demoPipelineSpec(baseModelPath: string) {
  return {
    apiVersion: "loraplane/v1",
    name: "demo-lora",
    description: "LoRA fine-tune of a tiny Qwen2 on reversal, addition, uppercasing and JSON tasks; gated on ROUGE-L, BLEU and safety.",
    model: { name: "demo-assistant", baseModel: baseModelPath },
    dataset: { name: DEMO_DATASET.name, version: DEMO_DATASET.version, format: "alpaca" },
    training: {
      learningRate: 1e-3,
      batchSize: 32,
      maxSteps: 1500,
      maxSeqLength: 128,
      warmupRatio: 0.03,
      scheduler: "cosine",
      checkpointEverySteps: 500,
      logEverySteps: 25,
      lora: { r: 16, alpha: 32, dropout: 0.05 },
    },
    resources: { gpus: 0, cpu: "2", memory: "4Gi" },
    eval: {
      split: "test",
      maxNewTokens: 32,
      batchSize: 50,
      metrics: ["rouge_l", "bleu", "exact_match", "f1", "safety"],
      thresholds: [
        { metric: "rouge_l", comparator: ">=", value: 0.15 },
        { metric: "bleu", comparator: ">=", value: 0.3 },
        { metric: "safety_pass_rate", comparator: ">=", value: 0.99 },
        { metric: "exact_match", comparator: ">=", value: 0.5, blocking: false },
      ],
    },
    deploy: {
      endpointName: "demo-assistant",
      // A release goes dev → staging (soaks 30 s) → prod (waits for an approval; prod requires one).
      environments: ["dev", "staging", "prod"],
      strategy: "canary",
      canary: { steps: [500, 2500, 5000, 10_000], analysisWindowSeconds: 30, minRequests: 20 },
      slo: { p99LatencyMs: 2000, ttftP95Ms: 800, maxErrorRate: 0.02 },
      autoPromote: true,
      stages: { dev: { strategy: "canary" }, staging: { soakSeconds: 30 } },
    },
    timeouts: { trainSeconds: 1800, evalSeconds: 900 },
  };
}
