import { describe, expect, it } from "vitest";
import { effectiveShares, errorRateDomain, servingByEndpoint, stepLabel, variantLabel, waitingForTraffic } from "./deployments";
import type { TDeployment } from "./types";

const policy = { canary: { stepsBps: [500, 2500, 5000, 10_000], minRequests: 20 } };
const variant = (id: string, role: string, weightBps: number) => ({ id, role, weightBps, modelVersionId: `mv-${id}`, status: "ready", servedModelName: id });
const deployment = (id: string, over: Partial<TDeployment>): TDeployment => ({
  id,
  projectId: "p",
  environmentId: "prod",
  endpointName: "chat",
  strategy: "canary",
  state: "progressing",
  currentStep: 0,
  policy,
  createdAt: "2026-11-30T10:00:00Z",
  variants: [],
  ...over,
});

describe("deployment screens", () => {
  it("shows what serves each endpoint now, including a promoted rollout", () => {
    const rows = servingByEndpoint(
      [
        deployment("old", { state: "promoted", createdAt: "2026-11-30T09:00:00Z", variants: [variant("v1", "canary", 10_000)] }),
        deployment("rb", { state: "rolled_back", createdAt: "2026-11-30T09:30:00Z", variants: [variant("v1b", "stable", 10_000), variant("v2", "canary", 0)] }),
        deployment("next", { state: "awaiting_approval", createdAt: "2026-11-30T10:00:00Z", variants: [variant("v1c", "stable", 0), variant("v3", "canary", 0)] }),
        deployment("other", { endpointName: "summarize", state: "promoted", variants: [variant("s1", "canary", 10_000)] }),
        deployment("elsewhere", { environmentId: "staging", state: "promoted", variants: [variant("x", "canary", 10_000)] }),
      ],
      "prod",
    );
    expect(rows.map((r) => [r.endpointName, r.serving?.id, r.upcoming?.id ?? null])).toEqual([
      ["chat", "rb", "next"],
      ["summarize", "other", null],
    ]);
  });

  it("gives a lone first version all the traffic whatever its step weight", () => {
    expect([...effectiveShares([variant("a", "canary", 500)]).values()]).toEqual([10_000]);
    expect([...effectiveShares([variant("s", "stable", 7500), variant("c", "canary", 2500)]).values()]).toEqual([7500, 2500]);
    expect([...effectiveShares([variant("c", "canary", 0)]).values()]).toEqual([0]);
  });

  it("labels a promoted version live, not canary", () => {
    expect(variantLabel("promoted", variant("a", "canary", 10_000))).toBe("live");
    expect(variantLabel("progressing", variant("a", "canary", 500))).toBe("canary");
    expect(variantLabel("rolled_back", variant("a", "canary", 0))).toBe("canary (retired)");
  });

  it("numbers canary steps from 1, as the rollback reasons do", () => {
    expect(stepLabel(deployment("d", { currentStep: 1 }))).toBe("step 2 of 4 (25%)");
    expect(stepLabel(deployment("d", { currentStep: 0 }))).toBe("step 1 of 4 (5%)");
  });

  it("says when a canary step waits for its minimum number of requests", () => {
    expect(waitingForTraffic(deployment("d", {}), 3)).toBe("waiting for traffic: 3 / 20 requests");
    expect(waitingForTraffic(deployment("d", {}), 20)).toBeNull();
    expect(waitingForTraffic(deployment("d", { state: "paused" }), 3)).toBeNull();
  });

  it("keeps the error-rate axis near the data (a 0% series tops out at 1%)", () => {
    const [, top] = errorRateDomain();
    expect(top(0)).toBe(0.01);
    expect(top(0.5)).toBeCloseTo(0.6);
  });
});
