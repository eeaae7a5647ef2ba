import { describe, expect, it } from "vitest";
import { resolveSpec, ZPipelineSpec } from "../../src/pipeline/spec.ts";

const minimal = { name: "demo", model: { name: "demo-model", baseModel: "/models/tiny" }, dataset: { name: "demo", version: "v1" } };

function issues(input: unknown) {
  const r = resolveSpec(input);
  if (r.ok) throw new Error("expected the spec to be rejected");
  return r.issues;
}

describe("ZPipelineSpec", () => {
  it("fills every default from a minimal spec, using the runtime's field names", () => {
    const r = resolveSpec(minimal);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.spec.apiVersion).toBe("loraplane/v1");
    expect(r.spec.training).toMatchObject({ learningRate: 2e-4, epochs: 1, batchSize: 8, gradientAccumulation: 1, maxSeqLength: 1024, scheduler: "cosine", precision: "auto", logEverySteps: 10 });
    expect(r.spec.training.lora).toEqual({ r: 16, alpha: 32, dropout: 0.05, targetModules: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"] });
    expect(r.spec.dataset.format).toBe("auto");
    expect(r.spec.eval).toMatchObject({ split: "test", maxNewTokens: 64, batchSize: 16, thresholds: [] });
    expect(r.spec.deploy).toBeNull();
    expect(r.spec.distributed).toEqual({ nprocPerNode: 1, nnodes: 1, strategy: "ddp" });
    expect(r.spec.resources).toMatchObject({ gpus: 1, cpu: "4", memory: "32Gi", spot: false });
    expect(r.spec.timeouts).toEqual({ trainSeconds: 21600, evalSeconds: 3600 });
  });

  it("keeps maxSteps without inventing epochs", () => {
    const r = ZPipelineSpec.parse({ ...minimal, training: { maxSteps: 100 } });
    expect(r.training.maxSteps).toBe(100);
    expect(r.training.epochs).toBeUndefined();
  });

  it("says which required field is missing", () => {
    expect(issues({})).toEqual(
      expect.arrayContaining([
        { path: "name", message: "name is required" },
        { path: "model", message: "model is required" },
        { path: "dataset", message: "dataset is required" },
      ]),
    );
    expect(issues({ ...minimal, model: { name: "m" } })).toContainEqual({ path: "model.baseModel", message: "model.baseModel is required" });
    expect(issues({ ...minimal, dataset: { name: "d" } })).toContainEqual({ path: "dataset.version", message: "dataset.version is required" });
  });

  it("rejects a negative learning rate with its path", () => {
    expect(issues({ ...minimal, training: { learningRate: -0.001 } })[0]).toMatchObject({ path: "training.learningRate", message: "must be > 0" });
  });

  it("rejects an unknown metric and an out-of-range threshold with their paths", () => {
    const found = issues({
      ...minimal,
      eval: { thresholds: [{ metric: "perplexity", value: 0.5 }, { metric: "rouge_l", value: 1.5 }] },
    });
    expect(found.map((i) => i.path)).toEqual(["eval.thresholds[0].metric", "eval.thresholds[1].value"]);
    expect(found[1]!.message).toBe("must be in [0, 1]");
  });

  it("rejects a threshold on a metric the eval does not compute", () => {
    const found = issues({ ...minimal, eval: { metrics: ["rouge_l"], thresholds: [{ metric: "safety_pass_rate", value: 0.9 }] } });
    expect(found).toEqual([{ path: "eval.thresholds[0].metric", message: 'threshold on safety_pass_rate needs "safety" in eval.metrics' }]);
  });

  it("accepts human review thresholds without an eval metric", () => {
    expect(resolveSpec({ ...minimal, eval: { thresholds: [{ metric: "human_review_pass_rate", value: 0.8, blocking: false }] } }).ok).toBe(true);
  });

  it("validates deploy policy steps", () => {
    expect(issues({ ...minimal, deploy: { endpointName: "chat", canary: { steps: [500, 400, 10000] } } })[0]!.path).toBe("deploy.canary.steps");
    expect(issues({ ...minimal, deploy: { endpointName: "chat", canary: { steps: [500, 5000] } } })[0]!.message).toBe("the last step must be 10000 (100%)");
    const ok = ZPipelineSpec.parse({ ...minimal, deploy: { endpointName: "chat", environments: ["staging", "prod"] } });
    expect(ok.deploy).toMatchObject({ strategy: "canary", autoPromote: true, canary: { steps: [500, 2500, 5000, 10000] }, slo: { maxErrorRate: 0.01 } });
  });

  it("rejects more processes per node than GPUs", () => {
    expect(issues({ ...minimal, resources: { gpus: 2 }, distributed: { nprocPerNode: 4 } })[0]!.path).toBe("distributed.nprocPerNode");
  });

  it("rejects bad types, enums and quantities", () => {
    expect(issues({ ...minimal, training: { batchSize: 1.5 } })[0]!.path).toBe("training.batchSize");
    expect(issues({ ...minimal, training: { scheduler: "step" } })[0]!.path).toBe("training.scheduler");
    expect(issues({ ...minimal, resources: { memory: "lots" } })[0]!.path).toBe("resources.memory");
    expect(issues({ ...minimal, apiVersion: "v2" })[0]!.path).toBe("apiVersion");
    expect(issues({ ...minimal, training: { lora: { dropout: 1 } } })[0]!.path).toBe("training.lora.dropout");
  });
});
