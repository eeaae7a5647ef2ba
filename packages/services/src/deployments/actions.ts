import {
  type DbOrTx,
  enqueueWebhookDeliveries,
  findEnvironmentForDeploy,
  insertRolloutEvent,
  setModelVersionStatus,
  setVariantWeights,
  supersedeOlderDeployments,
  updateDeployment,
  type TDeploymentRow,
} from "@loraplane/db";
import { z } from "zod";
import { recordAudit, type TActor } from "../audit/index.ts";
import { ConflictError, ValidationError, parseInput } from "../errors.ts";
import { NO_HEALTHY_VERSION } from "@loraplane/core";
import {
  afterChange,
  baseVariant,
  freezeBlocks,
  lockAndLoad,
  newVariant,
  notifyRoutingChange,
  requireState,
  weightsOf,
  type TDeploymentDeps,
} from "./shared.ts";

const ZActionBase = z.object({
  deploymentId: z.string().min(1).max(64),
  reason: z.string().max(2000).optional(),
});

export type TDeploymentActionInput = { deploymentId: string; actor: TActor; reason?: string };

const OPEN_STATES = ["pending", "awaiting_approval", "progressing", "paused"] as const;

async function audit(tx: DbOrTx, actor: TActor, d: TDeploymentRow, action: string, before: unknown, after: unknown) {
  await recordAudit(tx, actor, { projectId: d.projectId, action: `deployment.${action}`, subjectType: "deployment", subjectId: d.id, before, after });
}

/** Result every action returns: the state and weights after it. */
export type TDeploymentActionResult = { deploymentId: string; state: string; weights: Record<string, number>; routingVersion: number };

/**
 * Gives the new version all traffic and finishes the deployment: the previous version drains (the controller scales
 * it down), the model version becomes production (or staging below prod), older deployments of the endpoint are
 * superseded, and the run's orchestrator is nudged so its rollout stage completes.
 */
export async function promoteDeployment(deps: TDeploymentDeps, input: TDeploymentActionInput & { analysis?: unknown }): Promise<TDeploymentActionResult> {
  const { deploymentId, reason } = parseInput(ZActionBase, input);
  const result = await deps.db.$transaction(async (tx) => {
    const d = await lockAndLoad(tx, deploymentId);
    requireState(d, ["progressing", "paused"], "promote");
    const frozen = await freezeBlocks(tx, d);
    if (frozen) throw new ConflictError(`cannot promote: ${frozen}`, [{ path: "deploymentId", message: frozen }]);
    const next = newVariant(d);
    const base = baseVariant(d);
    if (next.status !== "ready") {
      throw new ValidationError(`cannot promote: the new version's backend is ${next.status}`, [{ path: "deploymentId", message: `variant ${next.role} is ${next.status}` }]);
    }
    const before = weightsOf(d);
    const routingVersion = await setVariantWeights(tx, d.id, [
      { variantId: next.id, weightBps: 10_000 },
      ...(base ? [{ variantId: base.id, weightBps: 0, status: "draining" as const }] : []),
    ]);
    const now = new Date();
    await updateDeployment(tx, d.id, { state: "promoted", finishedAt: now, reason: reason ?? "promoted" });
    const env = await findEnvironmentForDeploy(tx, d.environmentId);
    await setModelVersionStatus(tx, next.modelVersionId, env?.tier === "prod" ? "production" : "staging");
    if (base && env?.tier === "prod" && base.modelVersionId !== next.modelVersionId) await setModelVersionStatus(tx, base.modelVersionId, "archived");
    await supersedeOlderDeployments(tx, d.environmentId, d.endpointName, d.id, d.createdAt);
    const weights = { ...before, [next.role]: 10_000, ...(base ? { [base.role]: 0 } : {}) };
    await insertRolloutEvent(tx, { deploymentId: d.id, type: "promote", step: d.currentStep, weights, analysis: input.analysis, decision: "promote", reason: reason ?? "promoted", actorId: input.actor.userId });
    await audit(tx, input.actor, d, "promote", { state: d.state, weights: before }, { state: "promoted", weights, reason });
    await enqueueWebhookDeliveries(tx, d.projectId, "deployment.promoted", `deployment.promoted.${d.id}`, {
      event: "deployment.promoted", deploymentId: d.id, endpointName: d.endpointName, environmentId: d.environmentId, modelVersionId: next.modelVersionId, runId: d.runId, reason: reason ?? "promoted", at: now.toISOString(),
    });
    await notifyRoutingChange(tx, d.id);
    return { d, weights, routingVersion };
  });
  await afterChange(deps, result.d, true, "promoted");
  return { deploymentId, state: "promoted", weights: result.weights, routingVersion: result.routingVersion };
}

/**
 * Sends all traffic back to the last known good version in one routing change, marks the new variant failed (the
 * controller scales it down) and its model version rolled_back, records the outbound `deployment.rolled_back`
 * webhook and nudges the run. Allowed from any open state, so a stuck rollout can always be abandoned.
 */
export async function rollbackDeployment(
  deps: TDeploymentDeps,
  input: TDeploymentActionInput & { analysis?: unknown; automatic?: boolean },
): Promise<TDeploymentActionResult> {
  const { deploymentId, reason } = parseInput(ZActionBase, input);
  const result = await deps.db.$transaction(async (tx) => {
    const d = await lockAndLoad(tx, deploymentId);
    requireState(d, OPEN_STATES, "roll back");
    const next = newVariant(d);
    const base = baseVariant(d);
    // The first version on an endpoint has nothing to fall back to: the endpoint stops at 0% and says so, instead of
    // silently serving nothing.
    const why = base
      ? (reason ?? "rolled back")
      : input.automatic
        ? `${NO_HEALTHY_VERSION}${reason ? ` (${reason})` : ""}`
        : `no healthy version: first release rolled back by hand${reason ? ` (${reason})` : ""}`;
    const before = weightsOf(d);
    const routingVersion = await setVariantWeights(tx, d.id, [
      ...(base ? [{ variantId: base.id, weightBps: 10_000, status: "ready" as const }] : []),
      { variantId: next.id, weightBps: 0, status: "failed" },
    ]);
    const now = new Date();
    await updateDeployment(tx, d.id, { state: "rolled_back", finishedAt: now, reason: why });
    await setModelVersionStatus(tx, next.modelVersionId, "rolled_back");
    await supersedeOlderDeployments(tx, d.environmentId, d.endpointName, d.id, d.createdAt);
    const weights = { ...before, [next.role]: 0, ...(base ? { [base.role]: 10_000 } : {}) };
    await insertRolloutEvent(tx, { deploymentId: d.id, type: "rollback", step: d.currentStep, weights, analysis: input.analysis, decision: "rollback", reason: why, actorId: input.actor.userId });
    await audit(tx, input.actor, d, input.automatic ? "rollback.automatic" : "rollback", { state: d.state, weights: before }, { state: "rolled_back", weights, reason: why });
    await enqueueWebhookDeliveries(tx, d.projectId, "deployment.rolled_back", `deployment.rolled_back.${d.id}`, {
      event: "deployment.rolled_back", deploymentId: d.id, endpointName: d.endpointName, environmentId: d.environmentId, modelVersionId: next.modelVersionId,
      stableModelVersionId: base?.modelVersionId ?? null, runId: d.runId, automatic: input.automatic ?? false, reason: why, at: now.toISOString(),
    });
    await notifyRoutingChange(tx, d.id);
    return { d, weights, routingVersion };
  });
  await afterChange(deps, result.d, true, "rolled_back");
  return { deploymentId, state: "rolled_back", weights: result.weights, routingVersion: result.routingVersion };
}

const ZSplitInput = ZActionBase.extend({
  weights: z.record(z.string(), z.number().int().min(0).max(10_000)),
});

/**
 * Sets the split by role (`{ stable: 7500, canary: 2500 }`); weights must cover every variant and add up to 10000.
 * A manual split pauses a canary, so the analysis loop does not undo the person's choice until they resume.
 */
export async function setDeploymentSplit(
  deps: TDeploymentDeps,
  input: TDeploymentActionInput & { weights: Record<string, number> },
): Promise<TDeploymentActionResult> {
  const parsed = parseInput(ZSplitInput, input);
  const result = await deps.db.$transaction(async (tx) => {
    const d = await lockAndLoad(tx, parsed.deploymentId);
    requireState(d, ["progressing", "paused"], "change the split of");
    const roles = d.variants.map((v) => v.role as string);
    const unknown = Object.keys(parsed.weights).filter((r) => !roles.includes(r));
    if (unknown.length) throw new ValidationError(`unknown variant ${unknown.join(", ")}; this deployment has ${roles.join(", ")}`, unknown.map((r) => ({ path: `weights.${r}`, message: "no such variant" })));
    const missing = roles.filter((r) => !(r in parsed.weights));
    if (missing.length) throw new ValidationError(`weights must name every variant (missing ${missing.join(", ")})`, missing.map((r) => ({ path: `weights.${r}`, message: "required" })));
    const sum = Object.values(parsed.weights).reduce((a, b) => a + b, 0);
    if (sum !== 10_000) throw new ValidationError(`weights must add up to 10000 basis points, got ${sum}`, [{ path: "weights", message: `sum is ${sum}` }]);
    for (const v of d.variants) {
      if (parsed.weights[v.role]! > 0 && v.status !== "ready") {
        throw new ValidationError(`variant ${v.role} is ${v.status} and cannot take traffic`, [{ path: `weights.${v.role}`, message: `variant is ${v.status}` }]);
      }
    }
    const before = weightsOf(d);
    const routingVersion = await setVariantWeights(tx, d.id, d.variants.map((v) => ({ variantId: v.id, weightBps: parsed.weights[v.role]! })));
    const state = d.strategy === "canary" ? "paused" : d.state;
    await updateDeployment(tx, d.id, { state, stepStartedAt: new Date() });
    await insertRolloutEvent(tx, { deploymentId: d.id, type: "set_split", weights: parsed.weights, reason: parsed.reason ?? "split set manually", actorId: input.actor.userId });
    await audit(tx, input.actor, d, "set_split", { weights: before, state: d.state }, { weights: parsed.weights, state });
    await notifyRoutingChange(tx, d.id);
    return { d, state, routingVersion };
  });
  return { deploymentId: parsed.deploymentId, state: result.state, weights: parsed.weights, routingVersion: result.routingVersion };
}

export async function pauseDeployment(deps: TDeploymentDeps, input: TDeploymentActionInput): Promise<TDeploymentActionResult> {
  const { deploymentId, reason } = parseInput(ZActionBase, input);
  return deps.db.$transaction(async (tx) => {
    const d = await lockAndLoad(tx, deploymentId);
    requireState(d, ["progressing"], "pause");
    await updateDeployment(tx, d.id, { state: "paused" });
    await insertRolloutEvent(tx, { deploymentId: d.id, type: "pause", step: d.currentStep, weights: weightsOf(d), reason: reason ?? "paused", actorId: input.actor.userId });
    await audit(tx, input.actor, d, "pause", { state: d.state }, { state: "paused", reason });
    await notifyRoutingChange(tx, d.id);
    return { deploymentId, state: "paused", weights: weightsOf(d), routingVersion: d.routingVersion };
  });
}

/** Resumes automatic analysis; the current step's window starts over so evidence from before the pause is not reused. */
export async function resumeDeployment(deps: TDeploymentDeps, input: TDeploymentActionInput): Promise<TDeploymentActionResult> {
  const { deploymentId, reason } = parseInput(ZActionBase, input);
  const result = await deps.db.$transaction(async (tx) => {
    const d = await lockAndLoad(tx, deploymentId);
    requireState(d, ["paused"], "resume");
    await updateDeployment(tx, d.id, { state: "progressing", stepStartedAt: new Date() });
    await insertRolloutEvent(tx, { deploymentId: d.id, type: "resume", step: d.currentStep, weights: weightsOf(d), reason: reason ?? "resumed", actorId: input.actor.userId });
    await audit(tx, input.actor, d, "resume", { state: d.state }, { state: "progressing", reason });
    await notifyRoutingChange(tx, d.id);
    return d;
  });
  await afterChange(deps, result, false, "resumed");
  return { deploymentId, state: "progressing", weights: weightsOf(result), routingVersion: result.routingVersion };
}
