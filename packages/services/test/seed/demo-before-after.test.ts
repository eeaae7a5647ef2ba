import { describe, expect, it } from "vitest";
import { formatBeforeAfter, ZEvalReportMetrics } from "../../src/seed/demo-before-after.ts";

// Shaped like gpu-runtime's eval_report.json (extra fields such as samples are ignored).
const before = ZEvalReportMetrics.parse({
  metrics: { exact_match: 0, rouge_l: 0.0108, bleu: 0.0004, safety_pass_rate: 1 },
  metricsByTask: { add: { numSamples: 3, exact_match: 0, rouge_l: 0, bleu: 0 }, zh_reverse: { numSamples: 1, exact_match: 0, rouge_l: 0.05, bleu: 0.001 } },
  numSamples: 4,
  samples: [{ id: "test-00000" }],
});
const after = ZEvalReportMetrics.parse({
  metrics: { exact_match: 0.75, rouge_l: 0.9, bleu: 0.8123 },
  metricsByTask: { add: { numSamples: 3, exact_match: 2 / 3, rouge_l: 0.8, bleu: 0.7 }, zh_reverse: { numSamples: 1, exact_match: 1, rouge_l: 1, bleu: 1 } },
  numSamples: 4,
});

describe("formatBeforeAfter", () => {
  it("prints the whole split, then each task, base → adapter for exact match, ROUGE-L and BLEU", () => {
    expect(formatBeforeAfter(before, after)).toEqual([
      "task        rows  exact_match      rouge_l          bleu",
      "-----------------------------------------------------------------",
      "all            4  0.000 → 0.750    0.011 → 0.900    0.000 → 0.812",
      "add            3  0.000 → 0.667    0.000 → 0.800    0.000 → 0.700",
      "zh_reverse     1  0.000 → 1.000    0.050 → 1.000    0.001 → 1.000",
    ]);
  });

  it("marks a metric or task one report lacks instead of inventing a number", () => {
    const older = ZEvalReportMetrics.parse({ metrics: { rouge_l: 0.2 }, numSamples: 4 });
    const lines = formatBeforeAfter(older, after);
    expect(lines[2]).toBe("all            4    –   → 0.750    0.200 → 0.900      –   → 0.812");
    expect(lines[3]).toBe("add            3    –   → 0.667      –   → 0.800      –   → 0.700");
  });

  it("rejects a report without metrics", () => {
    expect(() => ZEvalReportMetrics.parse({ numSamples: 3 })).toThrow();
  });
});
