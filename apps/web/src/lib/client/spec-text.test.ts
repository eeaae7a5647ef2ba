import { describe, expect, it } from "vitest";
import { formatSpec, getAtPath, issuesFor, parseSpecText, setAtPath } from "./spec-text";

describe("spec text", () => {
  it("round-trips YAML and JSON", () => {
    const spec = { name: "p", training: { learningRate: 0.0002, epochs: 3 }, eval: { thresholds: [{ metric: "rougeL", min: 0.45 }] } };
    expect(parseSpecText(formatSpec(spec, "yaml"), "yaml")).toEqual({ value: spec, error: null });
    expect(parseSpecText(formatSpec(spec, "json"), "json")).toEqual({ value: spec, error: null });
  });

  it("reports the line of a YAML syntax error", () => {
    const result = parseSpecText("name: a\ntraining:\n  epochs: [1, 2\nother: 1\n", "yaml");
    expect(result.value).toBeUndefined();
    expect(result.error?.line).toBeGreaterThanOrEqual(3);
  });

  it("reports a JSON syntax error", () => {
    const result = parseSpecText('{\n  "name": "a",\n}', "json");
    expect(result.error).not.toBeNull();
  });

  it("sets nested paths without mutating the input and removes cleared keys", () => {
    const input = { training: { epochs: 3, learningRate: 1e-4 } };
    const next = setAtPath(input, "training.epochs", 5);
    expect(next).toEqual({ training: { epochs: 5, learningRate: 1e-4 } });
    expect(input.training.epochs).toBe(3);
    expect(setAtPath(next, "training.learningRate", undefined)).toEqual({ training: { epochs: 5 } });
    expect(setAtPath({}, "model.base", "qwen")).toEqual({ model: { base: "qwen" } });
    expect(getAtPath(next, "training.epochs")).toBe(5);
    expect(getAtPath(next, "training.missing.deeper")).toBeUndefined();
  });

  it("matches issues to the field that owns their path", () => {
    const issues = [{ path: "training.lora.r", message: "too big" }, { path: "training.learningRate", message: "x" }, { path: "training.loraAlpha", message: "y" }];
    expect(issuesFor(issues, "training.lora").map((i) => i.message)).toEqual(["too big"]);
  });
});
