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

/** The shadow phase of a route, as shadowOf() derives it from the deployment (mirrored by shadow-mirror.ts). */
export interface TRouteShadow {
  candidate: TRouteVariant;
  fraction: number;
  maxConcurrent: number;
  maxStoredSamples: number;
}

export interface TRoute {
  endpointName: string;
  deploymentId: string;
  projectId: string;
  projectSlug: string;
  environmentId: string;
  environmentName: string;
  /** The environment opted in to storing prompts and responses (interaction-capture.ts). */
  captureFeedbackData?: boolean;
  routingVersion: number;
  stickyHeader: string;
  /** Variants that take weighted traffic, new version first (see pickWeighted). */
  weighted: TRouteVariant[];
  totalWeight: number;
  /** Every variant with a live upstream, for the explicit version header (weight 0 included). */
  addressable: TRouteVariant[];
  /** Shadow phase: the candidate (weight 0) gets mirrored copies of a share of requests; null otherwise. */
  shadow?: TRouteShadow | null;
  /** Adaptive A/B: weights move every tick, so sticky users are remembered rather than hashed into a band. */
  adaptive?: boolean;
}

export interface TRoutingDeployment {
  id: string;
  projectId: string;
  projectSlug: string;
  environmentId: string;
  environmentName: string;
  captureFeedbackData?: boolean;
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

/** The shadow phase: policy shadow.enabled, a new-version variant live at weight 0 beside a weighted one. */
function shadowOf(policy: unknown, addressable: readonly TRouteVariant[]): TRouteShadow | null {
  const s = (policy as { shadow?: Record<string, unknown> } | null)?.shadow;
  if (!s || s.enabled !== true) return null;
  const candidate = addressable.find((v) => NEW_ROLES.has(v.role) && v.weightBps === 0 && v.status === "ready");
  if (!candidate || !addressable.some((v) => !NEW_ROLES.has(v.role) && v.weightBps > 0)) return null;
  const num = (v: unknown, d: number) => (typeof v === "number" && Number.isFinite(v) ? v : d);
  return { candidate, fraction: num(s.fraction, 0.2), maxConcurrent: num(s.maxConcurrent, 4), maxStoredSamples: num(s.maxStoredSamples, 500) };
}

function adaptiveOf(policy: unknown): boolean {
  return (policy as { ab?: { allocation?: { mode?: unknown } } } | null)?.ab?.allocation?.mode === "thompson";
}

/** The key of one endpoint in one environment: `<projectSlug>/<environmentName>/<endpointName>`. */
export function routeKey(projectSlug: string, environmentName: string, endpointName: string): string {
  return `${projectSlug}/${environmentName}/${endpointName}`;
}

export interface TRoutingTable {
  /** By routeKey(project slug, environment name, endpoint name). */
  routes: Map<string, TRoute>;
  /** Every route with this endpoint name, across projects and environments (the legacy `/v1` path resolves here). */
  byName: Map<string, TRoute[]>;
}

/**
 * Selects the environments one gateway serves: entries `<projectSlug>/<environmentName>`, where either side may be
 * `*` ("*\/prod": every project's prod). Empty: every environment.
 */
export function environmentFilter(entries: readonly string[]): ((projectSlug: string, environmentName: string) => boolean) | null {
  if (entries.length === 0) return null;
  const pairs = entries.map((e) => {
    const [slug, env] = e.split("/");
    return { slug: slug ?? "*", env: env ?? "*" };
  });
  return (projectSlug, environmentName) => pairs.some((p) => (p.slug === "*" || p.slug === projectSlug) && (p.env === "*" || p.env === environmentName));
}

/**
 * Builds the routing table from the deployments that are not superseded (newest first). Endpoints are addressed per
 * (project, environment, endpoint name): the same name in two environments is two routes. Within one environment an
 * endpoint routes by the newest deployment that gives some live variant traffic.
 */
export function buildRoutingTable(
  deployments: readonly TRoutingDeployment[],
  serves: ((projectSlug: string, environmentName: string) => boolean) | null = null,
): TRoutingTable {
  const routes = new Map<string, TRoute>();
  const byName = new Map<string, TRoute[]>();
  for (const d of deployments) {
    if (serves && !serves(d.projectSlug, d.environmentName)) continue;
    const key = routeKey(d.projectSlug, d.environmentName, d.endpointName);
    if (routes.has(key)) continue;
    const addressable = d.variants.filter((v) => LIVE.has(v.status) && v.upstreamUrl);
    const weighted = addressable
      .filter((v) => v.weightBps > 0)
      .sort((a, b) => Number(NEW_ROLES.has(b.role)) - Number(NEW_ROLES.has(a.role)));
    const totalWeight = weighted.reduce((s, v) => s + v.weightBps, 0);
    if (totalWeight === 0) continue;
    const route: TRoute = {
      endpointName: d.endpointName,
      deploymentId: d.id,
      projectId: d.projectId,
      projectSlug: d.projectSlug,
      environmentId: d.environmentId,
      environmentName: d.environmentName,
      captureFeedbackData: d.captureFeedbackData === true,
      routingVersion: d.routingVersion,
      stickyHeader: stickyHeaderOf(d.policy),
      shadow: shadowOf(d.policy, addressable),
      adaptive: adaptiveOf(d.policy),
      weighted,
      totalWeight,
      addressable,
    };
    routes.set(key, route);
    const same = byName.get(d.endpointName);
    if (same) same.push(route);
    else byName.set(d.endpointName, [route]);
  }
  return { routes, byName };
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
