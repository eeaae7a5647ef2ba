import { createHash } from "node:crypto";

export const NEW_ROLES = new Set(["canary", "green", "b"]);

export interface TRouteVariant {
  id: string;
  role: string;
  modelVersionId: string;
  servedModelName: string;
  upstreamUrl: string;
  weightBps: number;
  status: string;
}

export interface TRoute {
  endpointName: string;
  deploymentId: string;
  projectId: string;
  routingVersion: number;
  stickyHeader: string;
  /** Variants that take weighted traffic, new version first (see pickWeighted). */
  weighted: TRouteVariant[];
  totalWeight: number;
  /** Every variant with a live upstream, for the explicit version header (weight 0 included). */
  addressable: TRouteVariant[];
}

export interface TRoutingDeployment {
  id: string;
  projectId: string;
  environmentId: string;
  endpointName: string;
  policy: unknown;
  routingVersion: number;
  variants: TRouteVariant[];
}

const LIVE = new Set(["ready", "draining"]);

function stickyHeaderOf(policy: unknown): string {
  const h = (policy as { stickyHeader?: unknown } | null)?.stickyHeader;
  return typeof h === "string" && /^[a-z0-9-]+$/.test(h) ? h : "x-user-id";
}

/**
 * Builds the routing table from the deployments that are not superseded (newest first): an endpoint routes by the
 * newest deployment that gives some live variant traffic. Endpoint names are global to a gateway; when two
 * environments use the same name the newest deployment wins and `conflicts` names the others.
 */
export function buildRoutingTable(deployments: readonly TRoutingDeployment[]): { routes: Map<string, TRoute>; conflicts: string[] } {
  const routes = new Map<string, TRoute>();
  const envOf = new Map<string, string>();
  const conflicts: string[] = [];
  for (const d of deployments) {
    const existing = routes.get(d.endpointName);
    if (existing) {
      if (envOf.get(d.endpointName) !== d.environmentId) conflicts.push(`${d.endpointName}: deployment ${d.id} shadowed by ${existing.deploymentId}`);
      continue;
    }
    const addressable = d.variants.filter((v) => LIVE.has(v.status) && v.upstreamUrl);
    const weighted = addressable
      .filter((v) => v.weightBps > 0)
      .sort((a, b) => Number(NEW_ROLES.has(b.role)) - Number(NEW_ROLES.has(a.role)));
    const totalWeight = weighted.reduce((s, v) => s + v.weightBps, 0);
    if (totalWeight === 0) continue;
    routes.set(d.endpointName, {
      endpointName: d.endpointName,
      deploymentId: d.id,
      projectId: d.projectId,
      routingVersion: d.routingVersion,
      stickyHeader: stickyHeaderOf(d.policy),
      weighted,
      totalWeight,
      addressable,
    });
    envOf.set(d.endpointName, d.environmentId);
  }
  return { routes, conflicts };
}

/** Maps a stickiness key to [0, 1) uniformly and stably across gateways and restarts. */
export function stickyPoint(key: string): number {
  return createHash("sha1").update(key).digest().readUInt32BE(0) / 0x1_0000_0000;
}

/**
 * Picks a variant by weight at point u ∈ [0, 1). The new version occupies the low band [0, w_new), so as its weight
 * grows a sticky user who was on it stays on it, and users only ever move from old to new, never back and forth.
 */
export function pickWeighted(route: TRoute, u: number, exclude?: ReadonlySet<string>): TRouteVariant | null {
  const pool = exclude?.size ? route.weighted.filter((v) => !exclude.has(v.id)) : route.weighted;
  const total = exclude?.size ? pool.reduce((s, v) => s + v.weightBps, 0) : route.totalWeight;
  if (total === 0) return null;
  let target = u * total;
  for (const v of pool) {
    if (target < v.weightBps) return v;
    target -= v.weightBps;
  }
  return pool[pool.length - 1] ?? null;
}

/** The explicit version header names a variant by role, variant id, served model name or model version id. */
export function findExplicit(route: TRoute, wanted: string): TRouteVariant | null {
  return route.addressable.find((v) => v.role === wanted || v.id === wanted || v.servedModelName === wanted || v.modelVersionId === wanted) ?? null;
}
