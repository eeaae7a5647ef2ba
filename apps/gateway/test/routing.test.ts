import { describe, expect, it } from "vitest";
import { buildRoutingTable, findExplicit, pickWeighted, stickyPoint, type TRoutingDeployment } from "../src/routing.ts";

const variant = (role: string, weightBps: number, status = "ready") => ({
  id: `v-${role}`,
  role,
  modelVersionId: `mv-${role}`,
  servedModelName: `m-${role}`,
  upstreamUrl: `http://127.0.0.1:1/${role}`,
  weightBps,
  status,
});
const dep = (id: string, endpointName: string, variants: ReturnType<typeof variant>[], environmentId = "env"): TRoutingDeployment => ({
  id,
  projectId: "p",
  environmentId,
  endpointName,
  policy: { stickyHeader: "x-tenant" },
  routingVersion: 1,
  variants,
});

describe("buildRoutingTable", () => {
  it("routes by the newest deployment with live traffic and skips ones with none", () => {
    const { routes, conflicts } = buildRoutingTable([
      dep("new-pending", "chat", [variant("canary", 0, "starting")]),
      dep("current", "chat", [variant("stable", 9500), variant("canary", 500)]),
      dep("old", "chat", [variant("stable", 10000)]),
      dep("failed-only", "other", [variant("canary", 10000, "failed")]),
    ]);
    expect(routes.get("chat")!.deploymentId).toBe("current");
    expect(routes.get("chat")!.weighted.map((v) => v.role)).toEqual(["canary", "stable"]);
    expect(routes.get("chat")!.stickyHeader).toBe("x-tenant");
    expect(routes.has("other")).toBe(false);
    expect(conflicts).toEqual([]);
  });

  it("reports the same endpoint name in two environments", () => {
    const { conflicts } = buildRoutingTable([dep("a", "chat", [variant("stable", 10000)], "e1"), dep("b", "chat", [variant("stable", 10000)], "e2")]);
    expect(conflicts).toHaveLength(1);
  });
});

describe("pickWeighted", () => {
  const route = buildRoutingTable([dep("d", "chat", [variant("stable", 7500), variant("canary", 2500)])]).routes.get("chat")!;

  it("splits by weight", () => {
    const counts: Record<string, number> = { stable: 0, canary: 0 };
    for (let i = 0; i < 10_000; i++) counts[pickWeighted(route, stickyPoint(`user-${i}`))!.role]!++;
    expect(counts.canary! / 10_000).toBeGreaterThan(0.23);
    expect(counts.canary! / 10_000).toBeLessThan(0.27);
  });

  it("keeps a user on the new version as its weight grows", () => {
    const later = buildRoutingTable([dep("d", "chat", [variant("stable", 5000), variant("canary", 5000)])]).routes.get("chat")!;
    for (let i = 0; i < 2000; i++) {
      const u = stickyPoint(`user-${i}`);
      if (pickWeighted(route, u)!.role === "canary") expect(pickWeighted(later, u)!.role).toBe("canary");
    }
  });

  it("excludes a failed variant on retry and finds variants by role, name or version", () => {
    expect(pickWeighted(route, 0.01, new Set(["v-canary"]))!.role).toBe("stable");
    expect(pickWeighted(route, 0.01, new Set(["v-canary", "v-stable"]))).toBeNull();
    expect(findExplicit(route, "m-canary")!.role).toBe("canary");
    expect(findExplicit(route, "mv-stable")!.role).toBe("stable");
    expect(findExplicit(route, "nope")).toBeNull();
  });
});
