// Where the rollout's traffic split is carried out (the role of Argo Rollouts' traffic routers):
// - builtin (default): our gateway, which routes by the variant weights in Postgres and is woken by NOTIFY;
// - gateway-api: the cluster's own gateway, through an HTTPRoute the rollout controller keeps in step
//   (workers/src/rollout/gateway-api-traffic.ts; it needs a Kubernetes client, so it lives with the workers).
// The variant weights in Postgres stay the record of what traffic *should* do for every provider: decisions write them
// in the same transaction as their RolloutEvent, and the controller's tick asks the provider to make the data plane
// match (and to say when it had to correct something nobody decided).
import { findEnvironmentForDeploy, insertRolloutEvent, listRoutingDeployments, notifyRoutingChange, setVariantWeights, type Db } from "@loraplane/db";
import { lockAndLoad, NEW_ROLES } from "./shared.ts";

/** The header that pins a request to one variant (by role), on our gateway and on the HTTPRoute's pin rules. */
export const PIN_HEADER = "x-loraplane-variant";

export interface TTrafficVariant {
  id: string;
  role: string;
  servedModelName: string;
  /** Where the variant is served (vLLM: http://<service>.<namespace>.svc:8000). */
  upstreamUrl: string;
  weightBps: number;
  status: string;
}

/** One endpoint of one environment and the deployment whose weights route it now (as our gateway picks it). */
export interface TTrafficTarget {
  deploymentId: string;
  deploymentState: string;
  routingVersion: number;
  environmentId: string;
  /** Kubernetes namespace of the environment. */
  namespace: string;
  projectSlug: string;
  environmentName: string;
  endpointName: string;
  variants: TTrafficVariant[];
}

/** A request carrying `header: value` goes to the variant with this role whatever the weights. */
export interface TTrafficPin {
  header: string;
  value: string;
  role: string;
}

export interface TTrafficApplied {
  /** Something was written to the data plane. */
  changed: boolean;
  /** Our part of the route differed from what we last wrote (a person or another controller edited it): corrected. */
  drift: string[];
  detail: string;
}

export interface TTrafficProvider {
  readonly kind: "builtin" | "gateway-api";
  /** Each live variant gets its share (basis points by role). Idempotent: writes only when the data plane differs. */
  setWeights(target: TTrafficTarget, weightsByRole: Record<string, number>): Promise<TTrafficApplied>;
  /** Header matches that send a request to one variant regardless of the weights. */
  pin(target: TTrafficTarget, pins: TTrafficPin[]): Promise<TTrafficApplied>;
  /** All traffic to the base (stable/blue/a) variant, no pin to the new one: what a rollback leaves behind. */
  restoreStable(target: TTrafficTarget): Promise<TTrafficApplied>;
  /** One line for the rollout timeline: where this target's traffic is split. */
  describe(target: TTrafficTarget): string;
}

const LIVE = new Set(["ready", "draining"]);
const FINISHED_BAD = new Set(["rolled_back", "failed"]);

export const liveVariants = (t: Pick<TTrafficTarget, "variants">) => t.variants.filter((v) => LIVE.has(v.status) && v.upstreamUrl);

/** The weights Postgres records for the target's live variants (by role). */
export function recordedWeights(t: Pick<TTrafficTarget, "variants">): Record<string, number> {
  return Object.fromEntries(liveVariants(t).map((v) => [v.role, v.weightBps]));
}

/** Every live variant can be pinned by role (as on our gateway, where the header also takes ids and served names). */
export function recordedPins(t: Pick<TTrafficTarget, "variants">): TTrafficPin[] {
  return liveVariants(t).map((v) => ({ header: PIN_HEADER, value: v.role, role: v.role }));
}

/** The base variant's weights after a rollback: everything to it, nothing to the new version. */
export function stableWeights(t: Pick<TTrafficTarget, "variants">): Record<string, number> {
  const live = liveVariants(t);
  const base = live.find((v) => !NEW_ROLES.has(v.role));
  return Object.fromEntries(live.map((v) => [v.role, base ? (v === base ? 10_000 : 0) : v.weightBps]));
}

/**
 * One target per (environment, endpoint): the newest deployment that is not superseded and gives some live variant
 * traffic — the same choice our gateway's routing table makes (apps/gateway/src/routing.ts buildRoutingTable). An
 * endpoint where none does (its first version rolled back or failed) gets its newest finished deployment, whose
 * restoreStable withdraws the route's rules: our gateway answers such an endpoint with nothing either.
 */
export async function listTrafficTargets(db: Db): Promise<TTrafficTarget[]> {
  const rows = await listRoutingDeployments(db);
  const routed = new Map<string, (typeof rows)[number]>();
  const withdrawn = new Map<string, (typeof rows)[number]>();
  for (const d of rows) {
    const key = `${d.environmentId}\u0000${d.endpointName}`;
    if (routed.has(key)) continue;
    if (d.variants.some((v) => LIVE.has(v.status) && v.upstreamUrl && v.weightBps > 0)) routed.set(key, d);
    else if (!withdrawn.has(key) && FINISHED_BAD.has(d.state)) withdrawn.set(key, d);
  }
  for (const key of routed.keys()) withdrawn.delete(key);
  const namespaces = new Map<string, string>();
  const out: TTrafficTarget[] = [];
  for (const d of [...routed.values(), ...withdrawn.values()]) {
    let namespace = namespaces.get(d.environmentId);
    if (namespace === undefined) {
      namespace = (await findEnvironmentForDeploy(db, d.environmentId))?.namespace ?? "default";
      namespaces.set(d.environmentId, namespace);
    }
    out.push({
      deploymentId: d.id,
      deploymentState: d.state,
      routingVersion: d.routingVersion,
      environmentId: d.environmentId,
      namespace,
      projectSlug: d.projectSlug,
      environmentName: d.environmentName,
      endpointName: d.endpointName,
      variants: d.variants.map((v) => ({ id: v.id, role: v.role, servedModelName: v.servedModelName, upstreamUrl: v.upstreamUrl, weightBps: v.weightBps, status: v.status })),
    });
  }
  return out;
}

/**
 * Brings one target's data plane to what Postgres records: a rolled-back or failed deployment gets restoreStable,
 * any other its recorded weights and pins. What the provider changed is a `traffic` RolloutEvent (a drift correction
 * says what it found); an unchanged data plane records nothing (this runs every tick).
 */
export async function syncTraffic(db: Db, provider: TTrafficProvider, target: TTrafficTarget): Promise<TTrafficApplied> {
  const applied: TTrafficApplied[] = [];
  if (FINISHED_BAD.has(target.deploymentState)) applied.push(await provider.restoreStable(target));
  else {
    applied.push(await provider.setWeights(target, recordedWeights(target)));
    applied.push(await provider.pin(target, recordedPins(target)));
  }
  const result: TTrafficApplied = {
    changed: applied.some((a) => a.changed),
    drift: applied.flatMap((a) => a.drift),
    detail: applied.map((a) => a.detail).filter(Boolean).join("; "),
  };
  if (result.changed) {
    await insertRolloutEvent(db, {
      deploymentId: target.deploymentId,
      type: "traffic",
      weights: FINISHED_BAD.has(target.deploymentState) ? stableWeights(target) : recordedWeights(target),
      decision: result.drift.length > 0 ? "drift_corrected" : "applied",
      reason: result.drift.length > 0
        ? `${provider.describe(target)}: corrected drift (${result.drift.join("; ")})`
        : `${provider.describe(target)}: ${result.detail}`,
      analysis: { provider: provider.kind, routingVersion: target.routingVersion, drift: result.drift },
    });
  }
  return result;
}

/**
 * Our gateway reads the routing table from Postgres and reloads on NOTIFY loraplane_routing. The decisions already
 * write weights and NOTIFY inside their own transactions (so the gateway never sees a decision half-applied); this
 * provider's setWeights is the same write, made only when the recorded weights differ from those asked for.
 */
export function builtinTrafficProvider(db: Db): TTrafficProvider {
  async function write(target: TTrafficTarget, weightsByRole: Record<string, number>): Promise<TTrafficApplied> {
    const differs = liveVariants(target).some((v) => weightsByRole[v.role] !== undefined && weightsByRole[v.role] !== v.weightBps);
    if (!differs) return { changed: false, drift: [], detail: "routing table already current" };
    await db.$transaction(async (tx) => {
      const d = await lockAndLoad(tx, target.deploymentId);
      const changes = d.variants.filter((v) => weightsByRole[v.role] !== undefined && weightsByRole[v.role] !== v.weightBps).map((v) => ({ variantId: v.id, weightBps: weightsByRole[v.role]! }));
      if (changes.length === 0) return;
      await setVariantWeights(tx, d.id, changes);
      await notifyRoutingChange(tx, d.id);
    });
    return { changed: true, drift: [], detail: `routing table set to ${JSON.stringify(weightsByRole)}` };
  }
  return {
    kind: "builtin",
    setWeights: write,
    async pin(_target, pins) {
      // The gateway pins any live variant by its own header (tokens with scope inference:pin): nothing to write.
      const other = pins.find((p) => p.header.toLowerCase() !== PIN_HEADER);
      if (other) throw new Error(`the builtin gateway pins by ${PIN_HEADER} only (asked for ${other.header})`);
      return { changed: false, drift: [], detail: "" };
    },
    restoreStable: (target) => write(target, stableWeights(target)),
    describe: (t) => `gateway routing table ${t.projectSlug}/${t.environmentName}/${t.endpointName}`,
  };
}
