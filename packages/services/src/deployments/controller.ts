// The rollout controller's side of the deployment services: called by the workers' rollout loop, never by the API.
// Decisions are the pure functions of @loraplane/core; this file loads their inputs from Postgres and applies them.
import {
  findApprovalForDeployment,
  findLatestRolloutEvent,
  insertRolloutEvent,
  lastShadowJudgeError,
  listShadowSamples,
  setVariantWeights,
  updateDeployment,
  updateVariant,
  type TDeploymentRow,
} from "@loraplane/db";
import { decideAb, decideBlueGreen, decideCanary, decideShadow, seedOf, summarizeShadow, summarizeWindows, type TDecision, type TRolloutPolicy, type TVariantStats } from "@loraplane/core";
import { recordAudit } from "../audit/index.ts";
import { gatewayWindowsProvider, type TProviderStats, type TVariantRef } from "./metric-providers.ts";
import { promoteDeployment, rollbackDeployment } from "./actions.ts";
import { judgePendingPairs } from "./shadow-judge.ts";
import { SYSTEM_ACTOR, afterChange, baseVariant, freezeBlocks, lockAndLoad, newVariant, notifyRoutingChange, parsePolicy, weightsOf, type TDeploymentDeps } from "./shared.ts";

/** The variant's traffic since the current step started, from the deployment's metric provider. */
function variantStats(deps: TDeploymentDeps, d: TDeploymentRow, variant: TVariantRef, stepStart: Date, now: Date): Promise<TProviderStats> {
  return (deps.metrics ?? gatewayWindowsProvider(deps.db)).variantStats(d, variant, stepStart, now);
}

/**
 * Approval gate: an environment that requires approval moves no traffic before its ApprovalRequest is approved.
 * Returns the state after the check.
 */
export async function checkDeploymentApproval(deps: TDeploymentDeps, deploymentId: string): Promise<string> {
  const approval = await findApprovalForDeployment(deps.db, deploymentId);
  if (!approval || approval.status === "pending") return "awaiting_approval";
  return deps.db.$transaction(async (tx) => {
    const d = await lockAndLoad(tx, deploymentId);
    if (d.state !== "awaiting_approval") return d.state;
    const approved = approval.status === "approved";
    const state = approved ? "pending" : "failed";
    await updateDeployment(tx, d.id, { state, ...(approved ? {} : { finishedAt: new Date(), reason: `approval ${approval.status}` }) });
    await insertRolloutEvent(tx, { deploymentId: d.id, type: "approval", decision: approval.status, reason: `approval ${approval.status}`, actorId: approval.decidedById });
    return state;
  });
}

/**
 * The new version's backend is up with its adapter loaded: the variant becomes ready and, for a pending deployment,
 * traffic starts (canary: first step; A/B: the configured split; blue-green: none until the smoke test passes).
 */
export async function markNewVariantReady(deps: TDeploymentDeps, input: { deploymentId: string; upstreamUrl: string; detail: string }): Promise<void> {
  const d = await deps.db.$transaction(async (tx) => {
    const d = await lockAndLoad(tx, input.deploymentId);
    if (d.state !== "pending") return d;
    const policy = parsePolicy(d);
    const next = newVariant(d);
    const base = baseVariant(d);
    await updateVariant(tx, next.id, { status: "ready", upstreamUrl: input.upstreamUrl });
    // Shadow evaluation first: the candidate is up but takes no client traffic until the shadow gate passes.
    const shadow = inShadowPhase(d, policy);
    const first = shadow ? 0 : d.strategy === "canary" ? policy.canary.stepsBps[0]! : d.strategy === "ab" ? policy.ab.splitBps : 0;
    const weights = base ? { [base.role]: 10_000 - first, [next.role]: first } : { [next.role]: first };
    await setVariantWeights(tx, d.id, [...(base ? [{ variantId: base.id, weightBps: 10_000 - first }] : []), { variantId: next.id, weightBps: first }]);
    await updateDeployment(tx, d.id, { state: "progressing", currentStep: 0, stepStartedAt: new Date() });
    await insertRolloutEvent(tx, { deploymentId: d.id, type: "step", step: 0, weights, reason: `backend ready (${input.detail}); ${shadow ? `shadow evaluation: ${Math.round(policy.shadow.fraction * 100)}% of requests mirrored, no client traffic` : d.strategy === "blue_green" ? "smoke test next" : "traffic started"}` });
    await recordAudit(tx, SYSTEM_ACTOR, { projectId: d.projectId, action: "deployment.start_traffic", subjectType: "deployment", subjectId: d.id, after: { weights } });
    await notifyRoutingChange(tx, d.id);
    return d;
  });
  await afterChange(deps, d, false, "ready");
}

/** The backend could not be brought up: the deployment fails without having moved traffic. */
export async function markNewVariantFailed(deps: TDeploymentDeps, input: { deploymentId: string; error: string }): Promise<void> {
  await rollbackDeployment(deps, { deploymentId: input.deploymentId, actor: SYSTEM_ACTOR, reason: `serving backend failed: ${input.error}`, automatic: true });
  await deps.db.$transaction(async (tx) => {
    await updateDeployment(tx, input.deploymentId, { state: "failed" });
  });
}

export type TAnalysisOutcome = { deploymentId: string; decision: TDecision["decision"]; applied: boolean };

/**
 * One analysis of a progressing deployment: loads the variants' windows since the current step started, asks the
 * strategy's decision function, and applies its answer (next step, promote, rollback, blue-green switch). Waits are
 * not recorded (the loop runs every few seconds); every other decision is a RolloutEvent with its numbers.
 */
export async function analyseDeployment(
  deps: TDeploymentDeps,
  d: TDeploymentRow,
  options: { now?: Date; smoke?: { passed: boolean; detail: string } | null } = {},
): Promise<TAnalysisOutcome> {
  const now = options.now ?? new Date();
  const policy = parsePolicy(d);
  const next = newVariant(d);
  const base = baseVariant(d);
  const stepStart = d.stepStartedAt ?? d.createdAt;
  const elapsed = now.getTime() - stepStart.getTime();
  if (inShadowPhase(d, policy) && next.weightBps === 0 && !(await findLatestRolloutEvent(deps.db, d.id, "shadow_gate"))) {
    return analyseShadow(deps, d, policy, now, elapsed);
  }
  const [candidateRead, baselineRead] = await Promise.all([
    variantStats(deps, d, next, stepStart, now),
    base ? variantStats(deps, d, base, stepStart, now) : Promise.resolve(null),
  ]);
  const candidate = candidateRead.stats;
  const baseline = baselineRead?.stats ?? null;
  let result: TDecision;
  if (d.strategy === "canary") {
    result = decideCanary({ policy, currentStep: d.currentStep, stepElapsedMs: elapsed, canary: candidate, stable: baseline });
  } else if (d.strategy === "blue_green") {
    const smokeEvent = d.currentStep === 0 ? await findLatestRolloutEvent(deps.db, d.id, "smoke_test") : null;
    const smoke = options.smoke ?? (smokeEvent ? { passed: smokeEvent.decision === "passed", detail: smokeEvent.reason } : null);
    result = decideBlueGreen({ policy, phase: d.currentStep === 0 ? 0 : 1, smoke, phaseElapsedMs: elapsed, green: candidate, blue: baseline });
  } else {
    const awaiting = await findLatestRolloutEvent(deps.db, d.id, "await_decision");
    const empty = summarizeWindows([]);
    result = decideAb({
      policy,
      elapsedMs: elapsed,
      a: baseline ?? empty,
      b: candidate,
      alreadyAwaiting: awaiting !== null,
      currentSplitBps: next.weightBps,
      // Deterministic per deployment and data: a retried tick on the same windows makes the same allocation.
      seed: seedOf(`${d.id}:${(baseline ?? empty).requests}:${candidate.requests}:${candidate.errors}:${candidate.feedbackUp}:${candidate.feedbackDown}`),
    });
  }
  const analysis = {
    checks: result.checks,
    ab: result.ab,
    ...(result.adaptive ? { adaptive: result.adaptive } : {}),
    candidate: strip(candidate),
    baseline: baseline ? strip(baseline) : null,
    elapsedMs: elapsed,
    metrics: { provider: (deps.metrics ?? { kind: "gateway-windows" }).kind, queries: [...candidateRead.queries, ...(baselineRead?.queries ?? [])] },
  };
  const decision = result.decision;
  switch (decision.action) {
    case "wait":
      return { deploymentId: d.id, decision, applied: false };
    case "rollback":
      await rollbackDeployment(deps, { deploymentId: d.id, actor: SYSTEM_ACTOR, reason: decision.reason, analysis, automatic: true });
      return { deploymentId: d.id, decision, applied: true };
    case "promote": {
      // A change freeze holds the promotion (the canary keeps its current weights); rollbacks are never held.
      const frozen = await freezeBlocks(deps.db, d);
      if (frozen) return { deploymentId: d.id, decision: { action: "wait", reason: `promotion held: ${frozen}` }, applied: false };
      await promoteDeployment(deps, { deploymentId: d.id, actor: SYSTEM_ACTOR, reason: decision.reason, analysis });
      return { deploymentId: d.id, decision, applied: true };
    }
    case "await_decision":
      await insertRolloutEvent(deps.db, { deploymentId: d.id, type: "await_decision", step: d.currentStep, weights: weightsOf(d), analysis, decision: "await_decision", reason: decision.reason });
      if (d.strategy === "canary") await updateDeployment(deps.db, d.id, { state: "paused" });
      return { deploymentId: d.id, decision, applied: true };
    case "reweight": {
      const weightBps = decision.weightBps;
      const applied = await deps.db.$transaction(async (tx) => {
        const fresh = await lockAndLoad(tx, d.id);
        if (fresh.state !== "progressing" || fresh.routingVersion !== d.routingVersion) return false;
        const weights = { ...(base ? { [base.role]: 10_000 - weightBps } : {}), [next.role]: weightBps };
        // The experiment goes on: step and step start stay, so its windows keep accumulating from the start.
        await setVariantWeights(tx, d.id, [...(base ? [{ variantId: base.id, weightBps: 10_000 - weightBps }] : []), { variantId: next.id, weightBps }]);
        await insertRolloutEvent(tx, { deploymentId: d.id, type: "reweight", step: d.currentStep, weights, analysis, decision: "reweight", reason: decision.reason });
        await recordAudit(tx, SYSTEM_ACTOR, { projectId: d.projectId, action: "deployment.reweight", subjectType: "deployment", subjectId: d.id, before: weightsOf(fresh), after: weights });
        await notifyRoutingChange(tx, d.id);
        return true;
      });
      return { deploymentId: d.id, decision, applied };
    }
    case "advance":
    case "switch": {
      const weightBps = decision.action === "advance" ? decision.weightBps : 10_000;
      const step = decision.action === "advance" ? decision.step : 1;
      const applied = await deps.db.$transaction(async (tx) => {
        const fresh = await lockAndLoad(tx, d.id);
        // A person acted (paused, set a split, rolled back) since this analysis loaded its inputs: theirs wins.
        if (fresh.state !== "progressing" || fresh.currentStep !== d.currentStep || fresh.routingVersion !== d.routingVersion) return false;
        const weights = { ...(base ? { [base.role]: 10_000 - weightBps } : {}), [next.role]: weightBps };
        await setVariantWeights(tx, d.id, [...(base ? [{ variantId: base.id, weightBps: 10_000 - weightBps }] : []), { variantId: next.id, weightBps }]);
        await updateDeployment(tx, d.id, { currentStep: step, stepStartedAt: now });
        await insertRolloutEvent(tx, { deploymentId: d.id, type: decision.action === "advance" ? "step" : "switch", step, weights, analysis, decision: decision.action, reason: decision.reason });
        await recordAudit(tx, SYSTEM_ACTOR, { projectId: d.projectId, action: `deployment.${decision.action}`, subjectType: "deployment", subjectId: d.id, before: weightsOf(fresh), after: weights });
        await notifyRoutingChange(tx, d.id);
        return true;
      });
      return { deploymentId: d.id, decision, applied };
    }
  }
}

/** Canary with a shadow block and a stable to compare with (a first deployment has none: it starts the canary). */
function inShadowPhase(d: Pick<TDeploymentRow, "strategy" | "variants">, policy: TRolloutPolicy): boolean {
  return d.strategy === "canary" && policy.shadow.enabled && baseVariant(d) !== null;
}

/**
 * The shadow phase's analysis: the mirrored pairs the gateways stored are summarised and judged by the shadow gate.
 * Pass: the canary's first step starts (its windows from now). Fail: the deployment rolls back with the reason; the
 * candidate never had a weight above 0, so no client request was served by it.
 */
async function analyseShadow(deps: TDeploymentDeps, d: TDeploymentRow, policy: TRolloutPolicy, now: Date, elapsed: number): Promise<TAnalysisOutcome> {
  if (policy.shadow.judge.enabled && !deps.judge) {
    return failShadowGate(deps, d, "shadow gate: the policy asks for an LLM judge (deploy.shadow.judge) but the workers have none configured (LORAPLANE_JUDGE_URL, LORAPLANE_JUDGE_MODEL)");
  }
  // Judge what the gateways stored since the last tick, then summarise everything stored.
  const judge = policy.shadow.judge.enabled ? deps.judge : undefined;
  const judged = judge ? await judgePendingPairs(deps.db, judge, d.id) : null;
  const samples = await listShadowSamples(deps.db, d.id, policy.shadow.maxStoredSamples);
  const summary = summarizeShadow(samples);
  const lastJudgeError = judge ? (judged?.lastError ?? (await lastShadowJudgeError(deps.db, d.id))) : null;
  const gate = decideShadow(summary, policy.shadow, elapsed, lastJudgeError);
  const analysis = { shadow: summary, checks: gate.checks, elapsedMs: elapsed, ...(judge ? { judgeModel: judge.model } : {}) };
  if (gate.action === "wait") return { deploymentId: d.id, decision: { action: "wait", reason: gate.reason }, applied: false };
  if (gate.action === "fail") return failShadowGate(deps, d, gate.reason, analysis);
  const next = newVariant(d);
  const base = baseVariant(d)!;
  const weightBps = policy.canary.stepsBps[0]!;
  const applied = await deps.db.$transaction(async (tx) => {
    const fresh = await lockAndLoad(tx, d.id);
    if (fresh.state !== "progressing" || fresh.routingVersion !== d.routingVersion) return false;
    const weights = { [base.role]: 10_000 - weightBps, [next.role]: weightBps };
    await insertRolloutEvent(tx, { deploymentId: d.id, type: "shadow_gate", step: 0, analysis, decision: "passed", reason: gate.reason });
    await setVariantWeights(tx, d.id, [{ variantId: base.id, weightBps: 10_000 - weightBps }, { variantId: next.id, weightBps }]);
    await updateDeployment(tx, d.id, { currentStep: 0, stepStartedAt: now });
    await insertRolloutEvent(tx, { deploymentId: d.id, type: "step", step: 0, weights, decision: "advance", reason: `${gate.reason}; canary starts` });
    await recordAudit(tx, SYSTEM_ACTOR, { projectId: d.projectId, action: "deployment.shadow_passed", subjectType: "deployment", subjectId: d.id, before: weightsOf(fresh), after: weights });
    await notifyRoutingChange(tx, d.id);
    return true;
  });
  return { deploymentId: d.id, decision: { action: "advance", step: 0, weightBps, reason: gate.reason }, applied };
}

/** The shadow gate failed: recorded, and the deployment rolls back having served no client request. */
async function failShadowGate(deps: TDeploymentDeps, d: TDeploymentRow, reason: string, analysis?: Record<string, unknown>): Promise<TAnalysisOutcome> {
  await insertRolloutEvent(deps.db, { deploymentId: d.id, type: "shadow_gate", step: 0, ...(analysis ? { analysis } : {}), decision: "failed", reason });
  await rollbackDeployment(deps, { deploymentId: d.id, actor: SYSTEM_ACTOR, reason, ...(analysis ? { analysis } : {}), automatic: true });
  return { deploymentId: d.id, decision: { action: "rollback", reason }, applied: true };
}

/** Records a blue-green smoke test's outcome; the next analysis switches or rolls back on it. */
export async function recordSmokeTest(deps: TDeploymentDeps, input: { deploymentId: string; passed: boolean; detail: string }): Promise<void> {
  await insertRolloutEvent(deps.db, { deploymentId: input.deploymentId, type: "smoke_test", step: 0, decision: input.passed ? "passed" : "failed", reason: input.detail });
}

function strip(s: TVariantStats) {
  const { latencyHist: _l, ttftHist: _t, ...rest } = s;
  return rest;
}
