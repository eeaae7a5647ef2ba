import {
  type Db,
  type DbOrTx,
  findDeploymentById,
  findEnvironmentFreeze,
  findLatestRolloutEvent,
  lockDeployment,
  notifyRoutingChange,
  type TDeploymentRow,
  type TVariantRow,
} from "@loraplane/db";
import { ZRolloutPolicy, type TRolloutPolicy } from "@loraplane/core";
import { ConflictError, NotFoundError } from "../errors.ts";
import type { TActor } from "../audit/index.ts";
import type { TMetricProvider } from "./metric-providers.ts";
import type { TShadowJudge } from "./shadow-judge.ts";

/** What the deployment services need: the database and the producer that nudges a run's orchestrator. */
export interface TDeploymentDeps {
  db: Db;
  queue: { nudgeRun(job: { runId: string; reason: string }): Promise<string> };
  /** Optional: wakes the rollout controller at once instead of at its next tick. */
  rollout?: { analyseNow(deploymentId: string, reason: string): Promise<string> };
  /** Where variant traffic is read from; our gateway's windows in Postgres unless set (see metric-providers.ts). */
  metrics?: TMetricProvider;
  /** The LLM judge of shadow evaluation (workers' LORAPLANE_JUDGE_*); a policy that asks for one fails without it. */
  judge?: TShadowJudge;
}

export const SYSTEM_ACTOR: TActor = { type: "system", userId: null };

export const NEW_ROLES = new Set(["canary", "green", "b"]);
export const BASE_ROLES = new Set(["stable", "blue", "a"]);

export function newVariant(d: Pick<TDeploymentRow, "variants">): TVariantRow {
  const v = d.variants.find((x) => NEW_ROLES.has(x.role));
  // A conflict with the deployment's state (409 to an API caller), not an internal error.
  if (!v) throw new ConflictError("deployment has no new-version variant");
  return v;
}

export function baseVariant(d: Pick<TDeploymentRow, "variants">): TVariantRow | null {
  return d.variants.find((x) => BASE_ROLES.has(x.role)) ?? null;
}

export function parsePolicy(d: Pick<TDeploymentRow, "policy">): TRolloutPolicy {
  return ZRolloutPolicy.parse(d.policy ?? {});
}

export function weightsOf(d: Pick<TDeploymentRow, "variants">): Record<string, number> {
  return Object.fromEntries(d.variants.map((v) => [v.role, v.weightBps]));
}

/** Loads and row-locks the deployment inside `tx`; 404 when missing. */
export async function lockAndLoad(tx: DbOrTx, deploymentId: string): Promise<TDeploymentRow> {
  if (!(await lockDeployment(tx, deploymentId))) throw new NotFoundError(`deployment ${deploymentId} not found`);
  const d = await findDeploymentById(tx, deploymentId);
  if (!d) throw new NotFoundError(`deployment ${deploymentId} not found`);
  return d;
}

export function requireState(d: TDeploymentRow, allowed: readonly string[], action: string): void {
  if (!allowed.includes(d.state)) {
    throw new ConflictError(`cannot ${action} deployment ${d.id}: it is ${d.state} (allowed: ${allowed.join(", ")})`, [
      { path: "deploymentId", message: `deployment is ${d.state}` },
    ]);
  }
}

export { notifyRoutingChange };

/**
 * Why the deployment may not start or promote now: its environment is frozen (change freeze). A deployment that
 * restores the environment's last known good version (a rollback) is never held by a freeze.
 */
export async function freezeBlocks(tx: DbOrTx, d: Pick<TDeploymentRow, "id" | "environmentId">): Promise<string | null> {
  const env = await findEnvironmentFreeze(tx, d.environmentId);
  if (!env?.frozenAt) return null;
  if (await findLatestRolloutEvent(tx, d.id, "restore")) return null;
  return `environment ${env.name} is frozen: ${env.frozenReason ?? "change freeze"}`;
}

/** After the transaction: nudge the run's orchestrator when the deployment finished, wake the controller otherwise. */
export async function afterChange(deps: TDeploymentDeps, d: Pick<TDeploymentRow, "id" | "runId">, finished: boolean, reason: string): Promise<void> {
  if (finished && d.runId) await deps.queue.nudgeRun({ runId: d.runId, reason: `deployment-${reason}` });
  else if (!finished && deps.rollout) await deps.rollout.analyseNow(d.id, reason);
}
