import { describe, expect, it } from "vitest";
import { buildRoutingTable, environmentFilter, findExplicit, pickWeighted, routeKey, stickyPoint, type TRoutingDeployment } from "../src/routing.ts";

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
  projectSlug: "acme",
  environmentId,
  environmentName: environmentId,
  endpointName,
  policy: { stickyHeader: "x-tenant" },
  routingVersion: 1,
  variants,
});

describe("buildRoutingTable", () => {
  it("routes by the newest deployment with live traffic and skips ones with none", () => {
    const { routes } = buildRoutingTable([
      dep("new-pending", "chat", [variant("canary", 0, "starting")]),
      dep("current", "chat", [variant("stable", 9500), variant("canary", 500)]),
      dep("old", "chat", [variant("stable", 10000)]),
      dep("failed-only", "other", [variant("canary", 10000, "failed")]),
    ]);
    const chat = routes.get(routeKey("acme", "env", "chat"))!;
    expect(chat.deploymentId).toBe("current");
    expect(chat.weighted.map((v) => v.role)).toEqual(["canary", "stable"]);
    expect(chat.stickyHeader).toBe("x-tenant");
    expect(routes.has(routeKey("acme", "env", "other"))).toBe(false);
  });

  it("keeps the same endpoint name in two environments as two routes; neither shadows the other", () => {
    const { routes, byName } = buildRoutingTable([dep("a", "chat", [variant("stable", 10000)], "prod"), dep("b", "chat", [variant("stable", 10000)], "dev")]);
    expect(routes.get(routeKey("acme", "prod", "chat"))!.deploymentId).toBe("a");
    expect(routes.get(routeKey("acme", "dev", "chat"))!.deploymentId).toBe("b");
    expect(byName.get("chat")!.map((r) => r.environmentName)).toEqual(["prod", "dev"]);
  });

  it("serves only the environments a gateway is restricted to", () => {
    const deps = [dep("a", "chat", [variant("stable", 10000)], "prod"), dep("b", "chat", [variant("stable", 10000)], "dev")];
    expect([...buildRoutingTable(deps, environmentFilter(["acme/prod"])).routes.keys()]).toEqual(["acme/prod/chat"]);
    expect([...buildRoutingTable(deps, environmentFilter(["*/dev"])).routes.keys()]).toEqual(["acme/dev/chat"]);
    expect(buildRoutingTable(deps, environmentFilter(["other/*"])).routes.size).toBe(0);
    expect(environmentFilter([])).toBeNull();
  });
});

describe("pickWeighted", () => {
  const route = buildRoutingTable([dep("d", "chat", [variant("stable", 7500), variant("canary", 2500)])]).routes.get(routeKey("acme", "env", "chat"))!;

  it("splits by weight", () => {
    const counts: Record<string, number> = { stable: 0, canary: 0 };
    for (let i = 0; i < 10_000; i++) counts[pickWeighted(route, stickyPoint(`user-${i}`))!.role]!++;
    expect(counts.canary! / 10_000).toBeGreaterThan(0.23);
    expect(counts.canary! / 10_000).toBeLessThan(0.27);
  });

  it("keeps a user on the new version as its weight grows", () => {
    const later = buildRoutingTable([dep("d", "chat", [variant("stable", 5000), variant("canary", 5000)])]).routes.get(routeKey("acme", "env", "chat"))!;
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
