import { describe, expect, it } from "vitest";
import { diffLines } from "./diff";
import { parseSpecText, setInText } from "./spec-text";

describe("spec text edits and diffs", () => {
  it("changes one value in YAML without reordering keys or dropping comments", () => {
    const text = "apiVersion: loraplane/v1\nname: demo # the pipeline\ntraining:\n  learningRate: 0.001\neval:\n  thresholds:\n    - value: 0.4\n      metric: rouge_l\n";
    const next = setInText(text, "yaml", "training.learningRate", 0.002);
    expect(next).toBe(text.replace("0.001", "0.002"));
    expect(setInText(text, "yaml", "eval.thresholds.0.value", 0.5)).toContain("    - value: 0.5\n      metric: rouge_l");
    expect(setInText(text, "yaml", "training.lora.r", 8)).toContain("training:\n  learningRate: 0.001\n  lora:\n    r: 8");
    expect((parseSpecText(setInText(text, "yaml", "training.learningRate", undefined), "yaml").value as { training: object }).training).toEqual({});
    expect(setInText('{\n  "name": "a",\n  "apiVersion": "v1"\n}\n', "json", "name", "b")).toBe('{\n  "name": "b",\n  "apiVersion": "v1"\n}\n');
  });

  it("diffs two versions line by line", () => {
    const diff = diffLines("a: 1\nb: 2\nc: 3\n", "a: 1\nb: 5\nc: 3\nd: 4\n");
    expect(diff.map((d) => `${d.kind[0]} ${d.text}`)).toEqual(["s a: 1", "r b: 2", "a b: 5", "s c: 3", "a d: 4"]);
  });
});
