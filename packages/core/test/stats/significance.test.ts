import { describe, expect, it } from "vitest";
import { emptyHistogram, recordValue } from "../../src/stats/histogram";
import { mannWhitneyU, mannWhitneyUHistograms, normalCdf, twoProportionZTest } from "../../src/stats/significance";

describe("normalCdf", () => {
  it("matches known values", () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 6);
    expect(normalCdf(1.959964)).toBeCloseTo(0.975, 5);
    expect(normalCdf(-1.644854)).toBeCloseTo(0.05, 5);
  });
});

describe("mannWhitneyU", () => {
  it("computes U as the count of pairs where a beats b", () => {
    // Hand-checked: a = [1,2,3], b = [4,5]: every a < every b → U_a = 0.
    const r = mannWhitneyU([1, 2, 3], [4, 5]);
    expect(r.u).toBe(0);
    expect(mannWhitneyU([4, 5], [1, 2, 3]).u).toBe(6);
    // Ties count one half: a = [1, 2], b = [2, 3] → pairs (1<2)(1<3)(2=2 → .5)(2<3) → U_a = 0.5.
    expect(mannWhitneyU([1, 2], [2, 3]).u).toBe(0.5);
  });

  it("finds a shift significant and identical samples not", () => {
    const base = Array.from({ length: 200 }, (_, i) => 50 + (i % 20));
    const slower = base.map((v) => v + 8);
    expect(mannWhitneyU(base, slower).pValue).toBeLessThan(0.001);
    expect(mannWhitneyU(base, [...base]).pValue).toBeGreaterThan(0.99);
  });

  it("works on histograms", () => {
    const a = emptyHistogram();
    const b = emptyHistogram();
    for (let i = 0; i < 500; i++) {
      recordValue(a, 20 + (i % 10));
      recordValue(b, 60 + (i % 10));
    }
    const r = mannWhitneyUHistograms(a, b);
    expect(r.pValue).toBeLessThan(1e-6);
    expect(r.commonLanguageEffect).toBe(0);
    expect(mannWhitneyUHistograms(a, emptyHistogram()).pValue).toBe(1);
  });
});

describe("twoProportionZTest", () => {
  it("matches a textbook example", () => {
    // 45/500 vs 70/500: pooled 0.115, se 0.02018 → z ≈ 2.478, p ≈ 0.0132 (by hand).
    const r = twoProportionZTest(45, 500, 70, 500);
    expect(r.z).toBeCloseTo(2.478, 2);
    expect(r.pValue).toBeCloseTo(0.0132, 3);
  });

  it("returns p = 1 without data and rejects impossible counts", () => {
    expect(twoProportionZTest(0, 0, 3, 10).pValue).toBe(1);
    expect(() => twoProportionZTest(5, 3, 1, 1)).toThrow(RangeError);
    expect(() => twoProportionZTest(-1, 3, 1, 1)).toThrow(RangeError);
  });
});
