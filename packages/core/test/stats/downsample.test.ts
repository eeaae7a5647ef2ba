import { describe, expect, it } from "vitest";
import { lttb, minMaxBuckets } from "../../src/stats/downsample";

const series = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => ({ x: i, y: f(i), step: i }));

describe("lttb", () => {
  it("returns the input unchanged when under the threshold", () => {
    const pts = series(10, (i) => i);
    expect(lttb(pts, 20)).toEqual(pts);
    expect(lttb(pts, 2)).toEqual(pts);
  });

  it("keeps exactly threshold points, first and last, in x order", () => {
    const pts = series(10_000, (i) => Math.sin(i / 100));
    const out = lttb(pts, 500);
    expect(out).toHaveLength(500);
    expect(out[0]).toBe(pts[0]);
    expect(out[499]).toBe(pts[9999]);
    for (let i = 1; i < out.length; i++) expect(out[i]!.x).toBeGreaterThan(out[i - 1]!.x);
  });

  it("keeps a single spike that striding would drop", () => {
    const pts = series(10_000, (i) => (i === 4321 ? 100 : 0));
    const out = lttb(pts, 100);
    expect(out.some((p) => p.step === 4321)).toBe(true);
  });

  it("carries extra fields through", () => {
    const out = lttb(series(100, (i) => i * i), 10);
    expect(out.every((p) => p.step === p.x)).toBe(true);
  });
});

describe("minMaxBuckets", () => {
  it("keeps each bucket's extremes in x order", () => {
    const pts = series(1000, (i) => (i % 97 === 0 ? -5 : i % 89 === 0 ? 9 : 1));
    const out = minMaxBuckets(pts, 10);
    expect(out.length).toBeLessThanOrEqual(22);
    expect(out[0]).toBe(pts[0]);
    expect(out.at(-1)).toBe(pts[999]);
    expect(Math.min(...out.map((p) => p.y))).toBe(-5);
    expect(Math.max(...out.map((p) => p.y))).toBe(9);
    for (let i = 1; i < out.length; i++) expect(out[i]!.x).toBeGreaterThan(out[i - 1]!.x);
  });

  it("returns small inputs unchanged", () => {
    const pts = series(5, (i) => i);
    expect(minMaxBuckets(pts, 10)).toEqual(pts);
  });
});
