// The traffic split over time, from the rollout events that record weights (created, first step, canary steps,
// A/B reweights, shadow gate passed, manual splits, promote, rollback): one point per change of the split.
import type { TRolloutEvent } from "./types";

export interface TSplitPoint {
  /** Epoch milliseconds. */
  t: number;
  /** Each role's share of requests in percent (one decimal); a role the event does not name has 0. */
  shares: Record<string, number>;
  /** The event that set this split; null for the point that carries the last split to now. */
  event: Pick<TRolloutEvent, "type" | "reason"> | null;
}

export interface TSplitHistory {
  /** The deployment's roles first (in its order), then any other role an event names. */
  roles: string[];
  points: TSplitPoint[];
  /** How many points are weight changes (the first split included); the "now" point is not one. */
  changes: number;
}

function weightsOf(event: TRolloutEvent): Record<string, number> | null {
  const w = event.weights;
  if (!w || typeof w !== "object") return null;
  const entries = Object.entries(w).filter(([, v]) => typeof v === "number" && Number.isFinite(v));
  return entries.length ? Object.fromEntries(entries) : null;
}

/**
 * Shares as the gateway routes them: in proportion to the weights of the variants that take traffic, so a first
 * version alone at a 5% canary step takes every request.
 */
function sharesOf(weights: Record<string, number>, roles: string[]): Record<string, number> {
  const total = roles.reduce((sum, r) => sum + Math.max(0, weights[r] ?? 0), 0);
  return Object.fromEntries(roles.map((r) => [r, total > 0 ? Math.round((Math.max(0, weights[r] ?? 0) / total) * 1000) / 10 : 0]));
}

const sameShares = (a: Record<string, number>, b: Record<string, number>) => Object.keys({ ...a, ...b }).every((r) => (a[r] ?? 0) === (b[r] ?? 0));

/**
 * Events that repeat the current split (pause, resume, awaiting a decision, the traffic provider applying it) add no
 * point. While the deployment is live (`now` given, later than the last change), a last point carries the split to now.
 */
export function trafficSplitHistory(events: TRolloutEvent[], options: { roles?: string[]; now?: number } = {}): TSplitHistory {
  const weighted = events
    .map((event) => ({ event, weights: weightsOf(event), t: Date.parse(event.createdAt) }))
    .filter((e): e is { event: TRolloutEvent; weights: Record<string, number>; t: number } => e.weights !== null && Number.isFinite(e.t))
    .sort((a, b) => a.t - b.t);
  const roles = [...(options.roles ?? [])];
  for (const e of weighted) for (const role of Object.keys(e.weights)) if (!roles.includes(role)) roles.push(role);
  const points: TSplitPoint[] = [];
  for (const e of weighted) {
    const shares = sharesOf(e.weights, roles);
    const previous = points.at(-1);
    if (previous && sameShares(previous.shares, shares)) continue;
    points.push({ t: e.t, shares, event: { type: e.event.type, reason: e.event.reason } });
  }
  const changes = points.length;
  const last = points.at(-1);
  if (last && options.now !== undefined && options.now > last.t) points.push({ t: options.now, shares: last.shares, event: null });
  return { roles, points, changes };
}
