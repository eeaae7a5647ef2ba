import { describe, expect, it } from "vitest";
import { ZPipelineSpec, ZSweepSpec } from "../../src/pipeline/spec.ts";
import { applyParams, expandSweep, pickBest, SWEEPABLE_PATHS, SweepError } from "../../src/pipeline/sweep.ts";

const spec = ZPipelineSpec.parse({ name: "demo", model: { name: "m", baseModel: "/m" }, dataset: { name: "d", version: "v1" } });

describe("expandSweep", () => {
  it("expands a grid into its cartesian product", () => {
    const out = expandSweep(ZSweepSpec.parse({ metric: "rouge_l", grid: { "training.learningRate": [1e-4, 1e-3], "training.lora.r": [8, 16, 32] } }));
    expect(out).toHaveLength(6);
    expect(new Set(out.map((p) => JSON.stringify(p))).size).toBe(6);
    expect(out).toContainEqual({ "training.learningRate": 1e-3, "training.lora.r": 32 });
  });

  it("random samples are seeded, in range and on the requested scale", () => {
    const s = ZSweepSpec.parse({ metric: "f1", samples: 50, seed: 7, random: { "training.learningRate": { min: 1e-5, max: 1e-2, scale: "log" }, "training.lora.r": { min: 4, max: 64, integer: true } } });
    const a = expandSweep(s);
    expect(a).toEqual(expandSweep(s));
    expect(a).toHaveLength(50);
    for (const p of a) {
      expect(p["training.learningRate"]).toBeGreaterThanOrEqual(1e-5);
      expect(p["training.learningRate"]).toBeLessThanOrEqual(1e-2);
      expect(Number.isInteger(p["training.lora.r"])).toBe(true);
    }
    // On a log scale about a third of the draws fall in each decade.
    const low = a.filter((p) => (p["training.learningRate"] as number) < 1e-4).length;
    expect(low).toBeGreaterThan(5);
    expect(expandSweep({ ...s, seed: 8 })).not.toEqual(a);
  });

  it("refuses fields outside training/eval and oversize sweeps", () => {
    expect(ZSweepSpec.safeParse({ metric: "f1", grid: { "model.baseModel": ["/a"] } }).success).toBe(false);
    const valid = ZSweepSpec.parse({ metric: "f1", grid: { "training.seed": [1] } });
    expect(() => expandSweep({ ...valid, grid: { "model.baseModel": ["/a"] } })).toThrow(SweepError);
    expect(() => expandSweep(ZSweepSpec.parse({ metric: "f1", maxRuns: 3, grid: { "training.seed": [1, 2, 3, 4] } }))).toThrow(/more than maxRuns/);
  });

  it("a sweep with nothing to vary is rejected by the schema", () => {
    expect(ZSweepSpec.safeParse({ metric: "f1" }).success).toBe(false);
  });
});

describe("applyParams", () => {
  it("applies dotted overrides and re-validates", () => {
    const out = applyParams(spec, { "training.learningRate": 1e-3, "training.lora.r": 8 });
    expect(out.training.learningRate).toBe(1e-3);
    expect(out.training.lora.r).toBe(8);
    expect(spec.training.learningRate).toBe(2e-4);
  });
  it("an override that breaks the spec fails with the path", () => {
    expect(() => applyParams(spec, { "training.learningRate": -1 })).toThrow(/training.learningRate/);
    expect(() => applyParams(spec, { "training.nope.x": 1 })).toThrow(/cannot be overridden/);
  });
});

describe("pickBest", () => {
  const c = [
    { runId: "a", metrics: { rouge_l: 0.4 } },
    { runId: "b", metrics: { rouge_l: 0.6 } },
    { runId: "c", metrics: {} },
    { runId: "d", metrics: { rouge_l: 0.6 } },
  ];
  it("max keeps the first of equals, min picks the lowest, missing are ignored", () => {
    expect(pickBest(c, "rouge_l", "max")).toEqual({ runId: "b", value: 0.6 });
    expect(pickBest(c, "rouge_l", "min")).toEqual({ runId: "a", value: 0.4 });
    expect(pickBest(c, "f1", "max")).toBeNull();
  });
});

describe("applyParams refuses prototype paths (issue #11 finding 1)", () => {
  const hostile = [
    "__proto__.expired",
    "__proto__",
    "constructor.prototype.expired",
    "training.__proto__.expired",
    "training.constructor.prototype.expired",
    "training.lora.__proto__.expired",
    "prototype.expired",
    "toString",
    "training.hasOwnProperty",
  ];
  for (const path of hostile) {
    it(`refuses "${path}" with a SweepError naming it, leaving Object.prototype unchanged`, () => {
      const before = Object.getOwnPropertyNames(Object.prototype).sort();
      let thrown: unknown;
      try {
        applyParams(spec, { [path]: true });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(SweepError);
      expect((thrown as SweepError).path).toBe(path);
      expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(before);
      expect(({} as Record<string, unknown>).expired).toBeUndefined();
      delete (Object.prototype as Record<string, unknown>).expired;
    });
  }

  it("only the documented sweepable paths are accepted", () => {
    for (const path of SWEEPABLE_PATHS) expect(path).toMatch(/^(training|eval)\.[A-Za-z.]+$/);
    expect(() => applyParams(spec, { "model.baseModel": "/other" })).toThrow(/cannot be overridden/);
    expect(() => applyParams(spec, { "eval.thresholds": "x" })).toThrow(SweepError);
    expect(applyParams(spec, { "eval.maxNewTokens": 32 }).eval.maxNewTokens).toBe(32);
  });

  it("expandSweep refuses prototype paths in grid and random", () => {
    expect(() => expandSweep({ ...ZSweepSpec.parse({ metric: "f1", grid: { "training.seed": [1] } }), grid: { "training.__proto__.x": [1] } })).toThrow(SweepError);
  });
});

describe("ZSweepSpec refuses non-sweepable and prototype paths when the spec is saved", () => {
  it("names each bad grid/random key", () => {
    const parsed = ZPipelineSpec.safeParse({
      name: "demo",
      model: { name: "m", baseModel: "/m" },
      dataset: { name: "d", version: "v1" },
      sweep: { metric: "f1", grid: { "training.__proto__.polluted": [1], "model.baseModel": ["/etc"] }, random: { "constructor.prototype.x": { min: 0, max: 1 } } },
    });
    expect(parsed.success).toBe(false);
    const paths = parsed.error!.issues.map((i) => i.path.join("."));
    expect(paths).toContain("sweep.grid.training.__proto__.polluted");
    expect(paths).toContain("sweep.grid.model.baseModel");
    expect(paths).toContain("sweep.random.constructor.prototype.x");
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
