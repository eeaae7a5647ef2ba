// What the deployment screens say about a rollout, computed the way the gateway and the controller see it.
import type { TDeployment, TVariant } from "./types";

export const ACTIVE_DEPLOYMENT_STATES = new Set(["pending", "awaiting_approval", "progressing", "paused"]);

/**
 * Each variant's share of the requests the gateway routes: it picks among the variants with weight > 0 in proportion
 * to their weights, so a first version alone at a 5% canary step still takes every request.
 */
export function effectiveShares(variants: Pick<TVariant, "id" | "weightBps">[]): Map<string, number> {
  const total = variants.reduce((sum, v) => sum + Math.max(0, v.weightBps), 0);
  return new Map(variants.map((v) => [v.id, total > 0 ? Math.round((Math.max(0, v.weightBps) / total) * 10_000) : 0]));
}

/**
 * The role shown for a variant: once a rollout is promoted its new version is what serves ("live"), not a canary;
 * after a rollback the base version is what serves again.
 */
export function variantLabel(state: string, variant: Pick<TVariant, "role" | "weightBps">): string {
  if (state === "promoted" && variant.weightBps > 0) return "live";
  if (state === "rolled_back" && variant.weightBps > 0) return `live (${variant.role})`;
  if (!ACTIVE_DEPLOYMENT_STATES.has(state) && variant.weightBps === 0) return `${variant.role} (retired)`;
  return variant.role;
}

interface TPolicyLike {
  canary?: { stepsBps?: number[]; minRequests?: number };
}

function policyOf(d: { policy?: unknown }): TPolicyLike {
  return d.policy && typeof d.policy === "object" ? (d.policy as TPolicyLike) : {};
}

/** "step 2 of 4 (25%)", counted from 1 like the controller's reasons ("SLO breach at step 2/4"). */
export function stepLabel(d: Pick<TDeployment, "strategy" | "state" | "currentStep"> & { policy?: unknown }): string | null {
  if (d.strategy === "canary") {
    const steps = policyOf(d).canary?.stepsBps ?? [];
    if (d.state === "promoted") return steps.length ? `all ${steps.length} steps done` : null;
    if (!steps.length) return `step ${d.currentStep + 1}`;
    const bps = steps[Math.min(d.currentStep, steps.length - 1)]!;
    return `step ${Math.min(d.currentStep + 1, steps.length)} of ${steps.length} (${bps / 100}%)`;
  }
  if (d.strategy === "blue_green") return d.currentStep === 0 ? "smoke test before the switch" : "switched; rollback window open";
  return null;
}

/** "waiting for traffic: 3 / 20 requests" while a canary step has fewer requests than its minimum. */
export function waitingForTraffic(d: Pick<TDeployment, "strategy" | "state"> & { policy?: unknown }, canaryRequests: number | null | undefined): string | null {
  if (d.strategy !== "canary" || d.state !== "progressing") return null;
  const minimum = policyOf(d).canary?.minRequests;
  if (!minimum || canaryRequests === null || canaryRequests === undefined || canaryRequests >= minimum) return null;
  return `waiting for traffic: ${canaryRequests} / ${minimum} requests`;
}

export interface TEndpointServing {
  endpointName: string;
  /** The deployment whose variants route this endpoint's traffic now (null: nothing serves). */
  serving: TDeployment | null;
  /** A newer rollout that has not taken traffic yet (waiting for approval, starting). */
  upcoming: TDeployment | null;
}

/**
 * Per endpoint of one environment: the newest deployment, not superseded, with a variant that takes traffic — the same
 * rule the gateway and the controller use to find what serves an endpoint — and any newer rollout still getting ready.
 */
export function servingByEndpoint(deployments: TDeployment[], environmentId: string): TEndpointServing[] {
  const newestFirst = deployments.filter((d) => d.environmentId === environmentId && d.state !== "superseded").sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt));
  const byEndpoint = new Map<string, TEndpointServing>();
  for (const d of newestFirst) {
    const entry = byEndpoint.get(d.endpointName) ?? { endpointName: d.endpointName, serving: null, upcoming: null };
    byEndpoint.set(d.endpointName, entry);
    if (entry.serving) continue;
    if (d.variants.some((v) => v.weightBps > 0)) entry.serving = d;
    else if (!entry.upcoming && ACTIVE_DEPLOYMENT_STATES.has(d.state)) entry.upcoming = d;
  }
  return [...byEndpoint.values()].filter((e) => e.serving || e.upcoming).sort((a, b) => a.endpointName.localeCompare(b.endpointName));
}

/** Error-rate axis: from 0 to a little above the highest value, never below 1% (a 0% series must not read 400%). */
export function errorRateDomain(): [number, (dataMax: number) => number] {
  return [0, (dataMax: number) => (Number.isFinite(dataMax) && dataMax > 0.01 ? Math.min(1, dataMax * 1.2) : 0.01)];
}
