import { describe, expect, it } from "vitest";
import { servingSeries } from "./deployment-panels";
import { lineageNodes } from "./lineage-graph";
import { latestStages, plannedStages } from "./run-panels";

describe("lineage graph nodes", () => {
  it("builds commit → dataset → run → version → deployments from a model version's lineage", () => {
    const nodes = lineageNodes({
      id: "mv1",
      modelName: "assistant",
      version: 3,
      status: "production",
      gitCommit: "0123456789abcdef",
      run: { id: "run1", number: 7, gitCommit: "0123456789abcdef", gitRef: "main", status: "succeeded" },
      datasetVersion: { id: "dv1", version: "v2", sha256: "feedfacecafebeef00", dataset: { name: "tickets" } },
      variants: [
        { id: "var1", role: "canary", deployment: { id: "dep1", state: "progressing", endpointName: "assistant", environmentId: "e1" } },
        { id: "var2", role: "stable", deployment: { id: "dep1", state: "progressing", endpointName: "assistant", environmentId: "e1" } },
      ],
    });
    expect(nodes.map((n) => [n.kind, n.label])).toEqual([
      ["commit", "0123456789"],
      ["dataset", "tickets@v2"],
      ["run", "Run #7"],
      ["version", "assistant v3"],
      ["deployment", "assistant"],
    ]);
    expect(nodes.find((n) => n.kind === "deployment")?.href).toBe("/deployments/dep1");
  });

  it("falls back to the run's spec for the dataset when no version was registered", () => {
    const nodes = lineageNodes({ run: { id: "r", number: 1, resolvedSpec: { dataset: { name: "d", version: "v1" } } }, modelVersions: [] });
    expect(nodes.map((n) => n.label)).toEqual(["d@v1", "Run #1"]);
  });
});

describe("serving series", () => {
  it("keeps a missing quantile as null so the chart shows a gap instead of a zero", () => {
    const [variant] = servingSeries({
      variants: [{ variantId: "v1", role: "canary", series: [{ t: "2026-01-01T00:00:00Z", p50LatencyMs: 12, p95LatencyMs: null, p99LatencyMs: 40, ttftP95Ms: 9, errorRate: 0.01, requestsPerSec: 3 }] }],
    });
    expect(variant).toEqual({ variantId: "v1", role: "canary", points: [{ t: "2026-01-01T00:00:00Z", p50: 12, p95: null, p99: 40, ttftP95: 9, errorRate: 0.01, rps: 3 }] });
  });
});

describe("stages", () => {
  it("shows the latest attempt of each stage in pipeline order", () => {
    const stages = latestStages([
      { stage: "train", status: "failed", attempt: 1 },
      { stage: "prepare", status: "succeeded", attempt: 1 },
      { stage: "train", status: "running", attempt: 2 },
    ]);
    expect(stages.map((s) => `${s.stage}:${s.attempt}:${s.status}`)).toEqual(["prepare:1:succeeded", "train:2:running"]);
  });

  it("plans deploy stages only when the spec deploys", () => {
    expect(plannedStages({ deploy: null })).toEqual(["prepare", "train", "eval", "gate", "register"]);
    expect(plannedStages({ deploy: { endpointName: "x" } })).toHaveLength(8);
  });
});
