import { describe, expect, it } from "vitest";
import { resolveSpec } from "../../src/pipeline/spec.ts";

// Mirrors gpu-runtime's job contract (gpu-runtime/loraplane_runtime/config.py): same names, same defaults.
const minimal = { name: "demo", model: { name: "demo-model", baseModel: "/models/tiny" }, dataset: { name: "demo", version: "v1" } };

describe("runtime options in the pipeline spec", () => {
  it("defaults: sdpa attention, no remote code, auto metric tokenizer, no stop strings, no reasoning stripping", () => {
    const r = resolveSpec(minimal);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.spec.training).toMatchObject({ attnImplementation: "sdpa", trustRemoteCode: false });
    expect(r.spec.eval).toMatchObject({ metricTokenizer: "auto", stopStrings: [], stripReasoning: false });
  });

  it("accepts the runtime's values and rejects others with the field path", () => {
    const r = resolveSpec({ ...minimal, training: { attnImplementation: "eager", trustRemoteCode: true }, eval: { metricTokenizer: "zh", stopStrings: ["\n\n"], stripReasoning: true } });
    expect(r.ok).toBe(true);
    const bad = resolveSpec({ ...minimal, eval: { metricTokenizer: "klingon", stopStrings: [""] }, training: { attnImplementation: "magic" } });
    expect(bad.ok).toBe(false);
    if (bad.ok) return;
    const paths = bad.issues.map((i) => i.path);
    expect(paths).toEqual(expect.arrayContaining(["eval.metricTokenizer", "eval.stopStrings[0]", "training.attnImplementation"]));
  });

  it("gradientCheckpointing: auto by default (the runtime decides by model size on GPU), true or false", () => {
    const r = resolveSpec(minimal);
    expect(r.ok && r.spec.training.gradientCheckpointing).toBe("auto");
    for (const value of [true, false, "auto"] as const) {
      const v = resolveSpec({ ...minimal, training: { gradientCheckpointing: value } });
      expect(v.ok && v.spec.training.gradientCheckpointing).toBe(value);
    }
    const bad = resolveSpec({ ...minimal, training: { gradientCheckpointing: "sometimes" } });
    expect(bad.ok).toBe(false);
    if (bad.ok) return;
    expect(bad.issues.map((i) => i.path)).toContain("training.gradientCheckpointing");
  });
});
