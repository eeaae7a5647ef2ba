import { describe, expect, it } from "vitest";
import { expectedDuration, normalQuantile, sampleSizePerArm } from "../../src/stats/power";

describe("power and duration", () => {
  it("normal quantiles", () => {
    expect(normalQuantile(0.975)).toBeCloseTo(1.959964, 5);
    expect(normalQuantile(0.8)).toBeCloseTo(0.841621, 5);
    expect(normalQuantile(0.01)).toBeCloseTo(-2.326348, 5);
  });

  it("matches the textbook figures for two proportions (α 0.05 two-sided, power 0.8, unpooled)", () => {
    // 10% → 15%: (1.96 + 0.8416)² · (0.09 + 0.1275) / 0.05² = 682.9 → 683 per group.
    expect(sampleSizePerArm({ baseline: 0.1, mde: 0.05 })).toBe(683);
    // 50% → 60%: 7.849 · (0.25 + 0.24) / 0.01 = 384.6 → 385 per group.
    expect(sampleSizePerArm({ baseline: 0.5, mde: 0.1 })).toBe(385);
    // Power 0.9: (1.96 + 1.2816)² · 0.2175 / 0.0025 = 914.3 → 915.
    expect(sampleSizePerArm({ baseline: 0.1, mde: 0.05, power: 0.9 })).toBe(915);
    expect(sampleSizePerArm({ baseline: 0.1, mde: 0 })).toBeNull();
  });

  it("duration at the current traffic and split", () => {
    // 683 per arm; 100 req/min, 50/50 and a quarter of answers rated → 12.5 trials/min per arm → 54.6 minutes.
    const d = expectedDuration({ baseline: 0.1, mde: 0.05, requestsPerMinute: 100, splitBps: 5_000, trialsPerRequest: 0.25 })!;
    expect(d.perArm).toBe(683);
    expect(d.minutes).toBeCloseTo(683 / 12.5, 6);
    // A 10% split: the smaller arm sets the pace.
    expect(expectedDuration({ baseline: 0.1, mde: 0.05, requestsPerMinute: 100, splitBps: 1_000 })!.minutes).toBeCloseTo(68.3, 6);
    expect(expectedDuration({ baseline: 0.1, mde: 0.05, requestsPerMinute: 0, splitBps: 5_000 })).toBeNull();
  });
});
