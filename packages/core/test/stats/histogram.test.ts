import { describe, expect, it } from "vitest";
import {
  HISTOGRAM_SLOTS,
  LATENCY_BUCKET_BOUNDS_MS,
  bucketIndex,
  emptyHistogram,
  histogramCount,
  histogramQuantile,
  mergeHistograms,
  recordValue,
} from "../../src/stats/histogram";

describe("latency histogram", () => {
  it("has increasing bounds from 0.1 ms to beyond 10 minutes' reach", () => {
    for (let i = 1; i < LATENCY_BUCKET_BOUNDS_MS.length; i++) {
      expect(LATENCY_BUCKET_BOUNDS_MS[i]!).toBeGreaterThan(LATENCY_BUCKET_BOUNDS_MS[i - 1]!);
    }
    expect(LATENCY_BUCKET_BOUNDS_MS[0]).toBe(0.1);
    expect(LATENCY_BUCKET_BOUNDS_MS.at(-1)!).toBeGreaterThan(400_000);
    expect(emptyHistogram()).toHaveLength(HISTOGRAM_SLOTS);
  });

  it("places values in (lower, upper] buckets and overflow last", () => {
    const b = LATENCY_BUCKET_BOUNDS_MS;
    expect(bucketIndex(0)).toBe(0);
    expect(bucketIndex(b[0]!)).toBe(0);
    expect(bucketIndex(b[3]!)).toBe(3);
    expect(bucketIndex(b[3]! + 1e-9)).toBe(4);
    expect(bucketIndex(1e9)).toBe(HISTOGRAM_SLOTS - 1);
  });

  it("estimates quantiles within 10% of exact ones", () => {
    const values = Array.from({ length: 20_000 }, (_, i) => 1 + ((i * 7919) % 20_000) / 40); // 1 … 501 ms
    const h = emptyHistogram();
    for (const v of values) recordValue(h, v);
    const sorted = [...values].sort((a, b) => a - b);
    for (const q of [0.5, 0.95, 0.99]) {
      const exact = sorted[Math.ceil(q * sorted.length) - 1]!;
      const est = histogramQuantile(h, q)!;
      expect(Math.abs(est - exact) / exact).toBeLessThan(0.1);
    }
  });

  it("returns null for no data and rejects bad q", () => {
    expect(histogramQuantile(emptyHistogram(), 0.5)).toBeNull();
    expect(() => histogramQuantile(emptyHistogram(), 1.5)).toThrow(RangeError);
  });

  it("merges by adding counts, tolerating short arrays", () => {
    const a = emptyHistogram();
    const b = emptyHistogram();
    recordValue(a, 5, 3);
    recordValue(b, 5, 2);
    recordValue(b, 5000);
    const m = mergeHistograms(a, b, [1], null);
    expect(histogramCount(m)).toBe(7);
    expect(m[bucketIndex(5)]).toBe(5);
    expect(histogramQuantile(m, 1)!).toBeGreaterThan(4000);
  });
});
