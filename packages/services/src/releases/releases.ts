// Releases: one model version moving through a pipeline's ordered environments (deploy.environments). Each
// environment is a ReleaseStage with its own policy (start, strategy, soak with SLOs, approval with separation of
// duties); each stage carries itself out through a Deployment of the rollout controller (startDeployment), so the
// rollout logic lives in one place. The decisions are the pure functions of @loraplane/core (decideStage,
// approvalEligibility); this file loads their inputs from Postgres and applies them.
import {
  type DbOrTx,
  enqueueWebhookDeliveries,
  findDeploymentById,
  findEnvironmentFreeze,
  findProjectById,
  findReleaseById,
  findReleaseForRun,
  findUserById,
  findUsersByIds,
  insertRelease,
  insertReleaseApproval,
  listProjectMembers,
  listReleaseIdsInProgress,
  listServingWindows,
  lockRelease,
  Prisma,
  setEnvironmentFreeze,
  updateRelease,
  updateReleaseStage,
  type TReleaseRow,
  type TReleaseStageRow,
} from "@loraplane/db";
import {
  approvalEligibility,
  decideStage,
  inferenceBaseUrl,
  policyFromDeploySpec,
  resolveStagePolicy,
  soakRemainingSeconds,
  summarizeWindows,
  type TPipelineSpec,
  type TReleaseRole,
  type TReleaseStagePolicy,
  type TRolloutPolicyInput,
  type TStageDecision,
  type TStageInput,
} from "@loraplane/core";
import { z } from "zod";
import { recordAudit, type TActor } from "../audit/index.ts";
import { baseVariant, newVariant, rollbackDeployment, SYSTEM_ACTOR, startDeployment, type TDeploymentDeps } from "../deployments/index.ts";
import { ConflictError, ForbiddenError, isServiceError, NotFoundError, parseInput, ValidationError } from "../errors.ts";
import { getProjectRole } from "../projects/index.ts";

export type TReleaseDeps = TDeploymentDeps;

/** The stage policy as stored: the resolved release policy plus the rollout policy its deployment follows. */
export type TStoredStagePolicy = TReleaseStagePolicy & { rollout: TRolloutPolicyInput };

export const RELEASE_WEBHOOK_EVENTS = ["release.stage_started", "release.awaiting_approval", "release.promoted", "release.rolled_back"] as const;

function storedPolicy(stage: Pick<TReleaseStageRow, "policy">): TStoredStagePolicy {
  return stage.policy as TStoredStagePolicy;
}

async function emit(tx: DbOrTx, r: Pick<TReleaseRow, "id" | "projectId" | "modelVersionId" | "endpointName" | "runId">, event: (typeof RELEASE_WEBHOOK_EVENTS)[number], stage: Pick<TReleaseStageRow, "id" | "environmentId" | "environment">, extra: Record<string, unknown>, eventKey = stage.id) {
  await enqueueWebhookDeliveries(tx, r.projectId, event, `${event}.${eventKey}`, {
    event,
    releaseId: r.id,
    runId: r.runId,
    modelVersionId: r.modelVersionId,
    endpointName: r.endpointName,
    environmentId: stage.environmentId,
    environment: stage.environment.name,
    at: new Date().toISOString(),
    ...extra,
  });
}

/**
 * Creates the release of a run's model version over the spec's deploy.environments (idempotent per run). The first
 * environment was already handled by the run's approve and deploy stages: its stage starts rolling out with the
 * deployment the run created. Called by the engine's deploy stage.
 */
export async function createReleaseForRun(
  deps: TReleaseDeps,
  input: { run: { id: string; projectId: string; requestedById: string | null }; modelVersionId: string; spec: TPipelineSpec; firstDeploymentId: string; environments: { id: string; name: string; tier: "dev" | "staging" | "prod"; requiresApproval: boolean }[] },
): Promise<TReleaseRow> {
  const existing = await findReleaseForRun(deps.db, input.run.id);
  if (existing) return existing;
  const deploy = input.spec.deploy!;
  const rollout = policyFromDeploySpec(deploy);
  const duties = await deps.db.pipelineRun.findUnique({ where: { id: input.run.id }, select: { pushedById: true, pushedByIdentity: true, specEditedById: true } });
  const stages = deploy.environments.map((name, position) => {
    const env = input.environments.find((e) => e.name === name);
    if (!env) throw new ValidationError(`environment "${name}" no longer exists`, [{ path: `spec.deploy.environments[${position}]`, message: "not found" }]);
    const policy = resolveStagePolicy(deploy, env);
    const stageRollout: TRolloutPolicyInput = {
      ...rollout,
      slo: { p99LatencyMs: policy.slo.p99LatencyMs, ttftP95Ms: policy.slo.ttftP95Ms, errorRate: policy.slo.maxErrorRate },
    };
    return { environmentId: env.id, position, policy: { ...policy, rollout: stageRollout } as unknown as Prisma.InputJsonValue };
  });
  try {
    return await deps.db.$transaction(async (tx) => {
      const release = await insertRelease(tx, {
        projectId: input.run.projectId,
        runId: input.run.id,
        modelVersionId: input.modelVersionId,
        endpointName: deploy.endpointName,
        requestedById: input.run.requestedById,
        pushedById: duties?.pushedById ?? null,
        pushedByIdentity: duties?.pushedByIdentity ?? null,
        specEditedById: duties?.specEditedById ?? null,
        stages,
      });
      const first = release.stages[0]!;
      await updateReleaseStage(tx, first.id, { state: "rolling_out", deploymentId: input.firstDeploymentId, startedAt: new Date(), reason: "started by the run's deploy stage" });
      await recordAudit(tx, SYSTEM_ACTOR, { projectId: release.projectId, action: "release.create", subjectType: "release", subjectId: release.id, after: { runId: input.run.id, modelVersionId: input.modelVersionId, environments: deploy.environments } });
      await emit(tx, release, "release.stage_started", first, { deploymentId: input.firstDeploymentId });
      return (await findReleaseById(tx, release.id))!;
    });
  } catch (error) {
    // Two deploy-stage attempts raced: the other created it.
    if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === "P2002") return (await findReleaseForRun(deps.db, input.run.id))!;
    throw error;
  }
}

async function soakFigures(deps: TReleaseDeps, stage: TReleaseStageRow): Promise<TStageInput["soak"]> {
  if (stage.state !== "soaking" || !stage.deploymentId || !stage.soakStartedAt) return null;
  const d = await findDeploymentById(deps.db, stage.deploymentId);
  if (!d) return null;
  const v = newVariant(d);
  const windows = await listServingWindows(deps.db, { deploymentId: d.id, variantId: v.id, since: new Date(stage.soakStartedAt.getTime() - 60_000) });
  const s = summarizeWindows(windows.filter((w) => w.windowStart.getTime() + w.windowSeconds * 1000 > stage.soakStartedAt!.getTime()));
  return { requests: s.requests, p99LatencyMs: s.p99LatencyMs, ttftP95Ms: s.ttftP95Ms, errorRate: s.errorRate };
}

async function stageInput(deps: TReleaseDeps, stage: TReleaseStageRow, emails: Map<string, string>): Promise<TStageInput> {
  const d = stage.deploymentId ? await findDeploymentById(deps.db, stage.deploymentId) : null;
  const rejected = stage.approvals.find((a) => a.decision === "rejected");
  return {
    name: stage.environment.name,
    state: stage.state,
    reason: stage.reason,
    policy: storedPolicy(stage),
    frozen: stage.environment.frozenAt ? { reason: stage.environment.frozenReason ?? "change freeze" } : null,
    promoteRequested: stage.promoteRequestedAt !== null,
    approvals: {
      approved: stage.approvals.filter((a) => a.decision === "approved").length,
      rejected: rejected ? { by: emails.get(rejected.userId) ?? rejected.userId, comment: rejected.comment } : null,
    },
    deployment: d ? { state: d.state, reason: d.reason, hadBase: baseVariant(d) !== null } : null,
    soakStartedAt: stage.soakStartedAt,
    soak: await soakFigures(deps, stage),
  };
}

/** Restores the environment's last known good version (the version that served when the stage's deployment started). */
async function restoreLastKnownGood(deps: TReleaseDeps, release: TReleaseRow, stage: TReleaseStageRow, actor: TActor, reason: string): Promise<{ deploymentId: string; modelVersionId: string } | null> {
  const d = stage.deploymentId ? await findDeploymentById(deps.db, stage.deploymentId) : null;
  const base = d ? baseVariant(d) : null;
  if (!d || !base || base.modelVersionId === release.modelVersionId) return null;
  const policy = storedPolicy(stage);
  const restored = await startDeployment(deps, {
    runId: null,
    modelVersionId: base.modelVersionId,
    environmentId: stage.environmentId,
    endpointName: release.endpointName,
    strategy: "blue_green",
    // Back to the version that was healthy before, at once: one smoke request, no automatic rollback (there is
    // nothing better to go back to) and a short watch.
    policy: { ...policy.rollout, blueGreen: { smokeRequests: 1, rollbackWindowSeconds: 1 }, automaticRollback: false },
    actor,
    restore: { reason: `rollback of release ${release.id} in ${stage.environment.name}: ${reason}` },
  });
  return { deploymentId: restored.deploymentId, modelVersionId: base.modelVersionId };
}

/** Applies one decision to a stage inside the release's lock; returns the state after it. */
async function apply(deps: TReleaseDeps, tx: DbOrTx, release: TReleaseRow, stage: TReleaseStageRow, decision: TStageDecision): Promise<TReleaseStageRow["state"]> {
  const now = new Date();
  const audit = (action: string, after: unknown) =>
    recordAudit(tx, SYSTEM_ACTOR, { projectId: release.projectId, action: `release.${action}`, subjectType: "release", subjectId: release.id, before: { environment: stage.environment.name, state: stage.state }, after });
  switch (decision.action) {
    case "none":
      return stage.state;
    case "wait": {
      const state = stage.state === "blocked" ? "pending" : stage.state;
      await updateReleaseStage(tx, stage.id, { state, reason: decision.reason });
      return state;
    }
    case "block":
      await updateReleaseStage(tx, stage.id, { state: "blocked", reason: decision.reason });
      await audit("stage_blocked", { environment: stage.environment.name, state: "blocked", reason: decision.reason });
      return "blocked";
    case "await_approval": {
      await updateReleaseStage(tx, stage.id, { state: "awaiting_approval", reason: decision.reason });
      if (stage.state !== "awaiting_approval") {
        await audit("awaiting_approval", { environment: stage.environment.name, state: "awaiting_approval" });
        await emit(tx, release, "release.awaiting_approval", stage, { required: storedPolicy(stage).approval.required, approvalPath: `/api/v1/releases/${release.id}/environments/${stage.environment.name}/approve` });
      }
      return "awaiting_approval";
    }
    case "start": {
      const policy = storedPolicy(stage);
      let deploymentId: string;
      try {
        const started = await startDeployment(deps, {
          runId: release.runId,
          modelVersionId: release.modelVersionId,
          environmentId: stage.environmentId,
          endpointName: release.endpointName,
          strategy: policy.strategy,
          policy: policy.rollout,
          approvalHandled: true,
        });
        deploymentId = started.deploymentId;
      } catch (error) {
        if (!isServiceError(error)) throw error;
        const reason = `cannot start: ${error.message}`;
        if (stage.reason !== reason) await updateReleaseStage(tx, stage.id, { state: "blocked", reason });
        return "blocked";
      }
      await updateReleaseStage(tx, stage.id, { state: "rolling_out", deploymentId, startedAt: now, reason: `${decision.reason}; rolling out (${policy.strategy})` });
      await audit("stage_started", { environment: stage.environment.name, state: "rolling_out", deploymentId });
      await emit(tx, release, "release.stage_started", { ...stage }, { deploymentId, strategy: policy.strategy });
      return "rolling_out";
    }
    case "soak":
      await updateReleaseStage(tx, stage.id, { state: "soaking", soakStartedAt: now, reason: decision.reason });
      return "soaking";
    case "promote":
      await updateReleaseStage(tx, stage.id, { state: "promoted", finishedAt: now, reason: decision.reason });
      await audit("promoted", { environment: stage.environment.name, state: "promoted", reason: decision.reason });
      await emit(tx, release, "release.promoted", stage, { deploymentId: stage.deploymentId, reason: decision.reason });
      return "promoted";
    case "rollback_soak": {
      const restored = await restoreLastKnownGood(deps, release, stage, SYSTEM_ACTOR, decision.reason);
      if (!restored) {
        const reason = `no healthy version: ${decision.reason}; nothing to fall back to, so this version keeps serving`;
        await updateReleaseStage(tx, stage.id, { state: "failed", finishedAt: now, reason });
        await audit("stage_failed", { environment: stage.environment.name, state: "failed", reason });
        return "failed";
      }
      const reason = `${decision.reason}; rolled back to the last known good version (deployment ${restored.deploymentId})`;
      await updateReleaseStage(tx, stage.id, { state: "rolled_back", finishedAt: now, reason });
      await audit("rolled_back", { environment: stage.environment.name, state: "rolled_back", reason, automatic: true });
      await emit(tx, release, "release.rolled_back", stage, { reason, automatic: true, restoredModelVersionId: restored.modelVersionId, restoreDeploymentId: restored.deploymentId });
      return "rolled_back";
    }
    case "rolled_back":
      await updateReleaseStage(tx, stage.id, { state: "rolled_back", finishedAt: now, reason: decision.reason });
      await audit("rolled_back", { environment: stage.environment.name, state: "rolled_back", reason: decision.reason, automatic: true });
      await emit(tx, release, "release.rolled_back", stage, { deploymentId: stage.deploymentId, reason: decision.reason, automatic: true });
      return "rolled_back";
    case "fail":
      await updateReleaseStage(tx, stage.id, { state: "failed", finishedAt: now, reason: decision.reason });
      return "failed";
  }
}

/**
 * One pass of the release controller over one release: every stage in order gets its next step (a stage only starts
 * when the one before it is promoted). Serialised per release by a row lock, so the controller's tick and a person's
 * approve/promote/rollback never act on the same release at once. Returns the release after the pass.
 */
export async function advanceRelease(deps: TReleaseDeps, releaseId: string, now = new Date()): Promise<TReleaseRow> {
  await deps.db.$transaction(
    async (tx) => {
      if (!(await lockRelease(tx, releaseId))) throw new NotFoundError(`release ${releaseId} not found`);
      const release = (await findReleaseById(tx, releaseId))!;
      if (release.state !== "in_progress") return;
      const userIds = [...new Set(release.stages.flatMap((s) => s.approvals.map((a) => a.userId)))];
      const emails = new Map((await findUsersByIds(tx, userIds)).map((u) => [u.id, u.email]));
      let previous: { name: string; state: TReleaseStageRow["state"] } | null = null;
      for (const stage of release.stages) {
        const input = await stageInput(deps, stage, emails);
        const state = await apply(deps, tx, release, stage, decideStage(input, previous, now));
        previous = { name: stage.environment.name, state };
      }
      const after = (await findReleaseById(tx, release.id))!;
      const failed = after.stages.find((s) => s.state === "rolled_back" || s.state === "failed" || (s.state === "blocked" && /^approval rejected/.test(s.reason ?? "")));
      if (after.stages.every((s) => s.state === "promoted")) {
        await updateRelease(tx, release.id, { state: "succeeded", finishedAt: now, reason: "live in every environment" });
      } else if (failed) {
        await updateRelease(tx, release.id, { state: "failed", finishedAt: now, reason: `${failed.environment.name}: ${failed.reason ?? failed.state}` });
      }
    },
    { maxWait: 15_000, timeout: 60_000 },
  );
  return (await findReleaseById(deps.db, releaseId))!;
}

/** The release controller's tick: advances every release in progress (errors are per release). */
export async function tickReleases(deps: TReleaseDeps, log?: { error(o: object, msg: string): void }): Promise<number> {
  const ids = await listReleaseIdsInProgress(deps.db);
  for (const { id } of ids) {
    try {
      await advanceRelease(deps, id);
    } catch (error) {
      log?.error({ releaseId: id, err: (error as Error).message }, "release tick failed");
    }
  }
  return ids.length;
}

function findStage(release: TReleaseRow, environment: string): TReleaseStageRow {
  const stage = release.stages.find((s) => s.environment.name === environment || s.environmentId === environment);
  if (!stage) {
    throw new NotFoundError(`release ${release.id} has no environment "${environment}" (it has ${release.stages.map((s) => s.environment.name).join(", ")})`, [
      { path: "environment", message: "not an environment of this release" },
    ]);
  }
  return stage;
}

async function loadRelease(deps: TReleaseDeps, id: string): Promise<TReleaseRow> {
  const r = await findReleaseById(deps.db, id);
  if (!r) throw new NotFoundError(`release ${id} not found`);
  return r;
}

const ZComment = z.string().max(2000).optional();
const ZActionInput = z.object({ releaseId: z.string().min(1).max(64), environment: z.string().min(1).max(100).optional(), comment: ZComment, reason: ZComment });

/**
 * "Promote to the next environment": the next stage that has not started may start (a manual stage needs this; an
 * automatic one only waits for its turn). Refused while the environment before it is still soaking (its SLOs must
 * hold first) or when the target environment is frozen.
 */
export async function promoteRelease(deps: TReleaseDeps, raw: { releaseId: string; environment?: string; reason?: string; actor: TActor }): Promise<TReleaseRow> {
  const input = parseInput(ZActionInput, raw);
  const release = await loadRelease(deps, input.releaseId);
  if (release.state !== "in_progress") throw new ConflictError(`release is ${release.state}`, [{ path: "releaseId", message: `release is ${release.state}` }]);
  const index = input.environment
    ? release.stages.indexOf(findStage(release, input.environment))
    : release.stages.findIndex((s) => s.state === "pending" || s.state === "blocked" || s.state === "awaiting_approval");
  const stage = release.stages[index];
  if (!stage) throw new ConflictError("the release is live in every environment");
  const prev = release.stages[index - 1];
  if (prev && prev.state !== "promoted") {
    const left = soakRemainingSeconds({ state: prev.state, policy: storedPolicy(prev), soakStartedAt: prev.soakStartedAt }, new Date());
    const why = prev.state === "soaking" ? `${prev.environment.name} is soaking (${left} s left); its SLOs must hold before ${stage.environment.name} may start` : `${prev.environment.name} is ${prev.state.replace("_", " ")}`;
    throw new ConflictError(`cannot promote to ${stage.environment.name}: ${why}`, [{ path: "environment", message: why }]);
  }
  if (stage.environment.frozenAt) {
    const why = `environment ${stage.environment.name} is frozen: ${stage.environment.frozenReason ?? "change freeze"}`;
    throw new ConflictError(`cannot promote: ${why}`, [{ path: "environment", message: why }]);
  }
  if (stage.state !== "pending" && stage.state !== "blocked") {
    throw new ConflictError(`cannot promote to ${stage.environment.name}: the stage is ${stage.state.replace("_", " ")}`, [{ path: "environment", message: `stage is ${stage.state}` }]);
  }
  await deps.db.$transaction(async (tx) => {
    await updateReleaseStage(tx, stage.id, { promoteRequestedAt: new Date(), promoteRequestedById: raw.actor.userId });
    await recordAudit(tx, raw.actor, { projectId: release.projectId, action: "release.promote", subjectType: "release", subjectId: release.id, after: { environment: stage.environment.name, reason: input.reason ?? null } });
  });
  return advanceRelease(deps, release.id);
}

/** Who may not approve, with the release's snapshot of the run's requester, pusher and spec editor. */
function dutiesOf(r: TReleaseRow) {
  return { requesterId: r.requestedById, pusherId: r.pushedById, pusherIdentity: r.pushedByIdentity, specEditorId: r.specEditedById };
}

/**
 * Approves or rejects an environment's stage. Separation of duties: the run's requester, the git pusher and whoever
 * last edited the pipeline's spec are refused with 403 and the reason; so is anyone below the policy's role and
 * anyone who already decided. A rejection blocks the stage (and fails the release); enough approvals start it.
 */
export async function decideReleaseStage(
  deps: TReleaseDeps,
  raw: { releaseId: string; environment: string; decision: "approved" | "rejected"; comment?: string; actor: TActor },
): Promise<TReleaseRow> {
  const input = parseInput(ZActionInput.extend({ environment: z.string().min(1).max(100), decision: z.enum(["approved", "rejected"]) }), raw);
  const release = await loadRelease(deps, input.releaseId);
  const stage = findStage(release, input.environment);
  const userId = raw.actor.userId;
  if (!userId) throw new ForbiddenError("approvals are decided by people, not by the system");
  const user = await findUserById(deps.db, userId);
  const role = user ? await getProjectRole(deps.db, { id: user.id, globalRole: user.role }, release.projectId) : null;
  if (!user || !role) throw new ForbiddenError("you are not a member of this release's project");
  const policy = storedPolicy(stage);
  const verdict = approvalEligibility(policy.approval, { userId, email: user.email, role: role as TReleaseRole }, dutiesOf(release), stage.approvals.map((a) => a.userId));
  if (!verdict.ok) throw new ForbiddenError(verdict.reason);
  if (stage.state !== "awaiting_approval") {
    throw new ConflictError(`${stage.environment.name} is ${stage.state.replace("_", " ")}, not waiting for approval`, [{ path: "environment", message: `stage is ${stage.state}` }]);
  }
  await deps.db.$transaction(async (tx) => {
    await insertReleaseApproval(tx, { stageId: stage.id, userId, decision: input.decision === "approved" ? "approved" : "rejected", comment: input.comment ?? null });
    await recordAudit(tx, raw.actor, {
      projectId: release.projectId,
      action: input.decision === "approved" ? "release.approve" : "release.reject",
      subjectType: "release",
      subjectId: release.id,
      after: { environment: stage.environment.name, comment: input.comment ?? null },
    });
  }).catch((error: unknown) => {
    if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === "P2002") throw new ConflictError("you already decided on this stage");
    throw error;
  });
  return advanceRelease(deps, release.id);
}

/**
 * Rolls one environment back to its last known good version, leaving the other environments alone. While the stage
 * is rolling out, its deployment is rolled back (traffic returns to the version that served before; a first version
 * stops at 0% with "no healthy version"). Once it is live, the previous version is deployed again (blue-green, allowed
 * in a frozen environment). A live first version has nothing to go back to: refused with 409.
 */
export async function rollbackReleaseStage(deps: TReleaseDeps, raw: { releaseId: string; environment: string; reason?: string; actor: TActor }): Promise<TReleaseRow> {
  const input = parseInput(ZActionInput.extend({ environment: z.string().min(1).max(100) }), raw);
  const release = await loadRelease(deps, input.releaseId);
  const stage = findStage(release, input.environment);
  const why = input.reason ?? "rolled back by hand";
  if (stage.state === "rolling_out" && stage.deploymentId) {
    const d = await findDeploymentById(deps.db, stage.deploymentId);
    if (d && ["pending", "awaiting_approval", "progressing", "paused"].includes(d.state)) {
      await rollbackDeployment(deps, { deploymentId: d.id, actor: raw.actor, reason: why });
      return advanceRelease(deps, release.id);
    }
  }
  if (stage.state !== "soaking" && stage.state !== "promoted" && stage.state !== "rolling_out") {
    throw new ConflictError(`nothing to roll back in ${stage.environment.name}: the stage is ${stage.state.replace("_", " ")}`, [{ path: "environment", message: `stage is ${stage.state}` }]);
  }
  await deps.db.$transaction(
    async (tx) => {
      await lockRelease(tx, release.id);
      const fresh = (await findReleaseById(tx, release.id))!;
      const s = findStage(fresh, input.environment);
      const restored = await restoreLastKnownGood(deps, fresh, s, raw.actor, why);
      if (!restored) {
        throw new ConflictError(`${s.environment.name} has no last known good version to go back to: this release is the first there`, [{ path: "environment", message: "no last known good version" }]);
      }
      const reason = `rolled back to the last known good version: ${why}`;
      await updateReleaseStage(tx, s.id, { state: "rolled_back", finishedAt: new Date(), reason });
      if (fresh.state !== "failed") await updateRelease(tx, fresh.id, { state: "failed", finishedAt: new Date(), reason: `${s.environment.name}: ${reason}` });
      await recordAudit(tx, raw.actor, { projectId: fresh.projectId, action: "release.rollback", subjectType: "release", subjectId: fresh.id, before: { environment: s.environment.name, state: s.state }, after: { state: "rolled_back", reason, restoreDeploymentId: restored.deploymentId } });
      await emit(tx, fresh, "release.rolled_back", s, { reason, automatic: false, restoredModelVersionId: restored.modelVersionId, restoreDeploymentId: restored.deploymentId }, `${s.id}.manual`);
    },
    { maxWait: 15_000, timeout: 60_000 },
  );
  return loadRelease(deps, release.id);
}

const ZFreeze = z.object({ environmentId: z.string().min(1).max(64), reason: z.string().trim().min(1, "a freeze needs a reason").max(2000) });

/** Change freeze: nothing starts or promotes in the environment until it is unfrozen; rollbacks still work. */
export async function freezeEnvironment(deps: Pick<TReleaseDeps, "db">, raw: { environmentId: string; reason: string; actor: TActor }) {
  const input = parseInput(ZFreeze, raw);
  return deps.db.$transaction(async (tx) => {
    const env = await findEnvironmentFreeze(tx, input.environmentId);
    if (!env) throw new NotFoundError(`environment ${input.environmentId} not found`);
    const after = await setEnvironmentFreeze(tx, env.id, { frozenAt: env.frozenAt ?? new Date(), frozenReason: input.reason, frozenById: raw.actor.userId });
    await recordAudit(tx, raw.actor, { projectId: env.projectId, action: "environment.freeze", subjectType: "environment", subjectId: env.id, before: { frozenAt: env.frozenAt, frozenReason: env.frozenReason }, after: { frozenAt: after.frozenAt, frozenReason: after.frozenReason } });
    return after;
  });
}

export async function unfreezeEnvironment(deps: Pick<TReleaseDeps, "db">, raw: { environmentId: string; reason?: string; actor: TActor }) {
  const input = parseInput(z.object({ environmentId: z.string().min(1).max(64), reason: ZComment }), raw);
  return deps.db.$transaction(async (tx) => {
    const env = await findEnvironmentFreeze(tx, input.environmentId);
    if (!env) throw new NotFoundError(`environment ${input.environmentId} not found`);
    const after = await setEnvironmentFreeze(tx, env.id, { frozenAt: null, frozenReason: null, frozenById: null });
    await recordAudit(tx, raw.actor, { projectId: env.projectId, action: "environment.unfreeze", subjectType: "environment", subjectId: env.id, before: { frozenAt: env.frozenAt, frozenReason: env.frozenReason }, after: { frozenAt: null, reason: input.reason ?? null } });
    return after;
  });
}

const ROLE_RANK = ["viewer", "engineer", "approver", "admin"];

/**
 * The release as the API shows it: per environment the state, reason, policy, soak countdown, approvals (with who
 * decided and who may still approve), the deployment's variants and weights, and the environment's inference URL.
 */
export async function releaseView(deps: Pick<TReleaseDeps, "db">, release: TReleaseRow, options: { gatewayPublicUrl?: string; now?: Date } = {}) {
  const now = options.now ?? new Date();
  const project = await findProjectById(deps.db, release.projectId);
  const members = await listProjectMembers(deps.db, release.projectId);
  const duties = dutiesOf(release);
  const deciders = [...new Set(release.stages.flatMap((s) => s.approvals.map((a) => a.userId)))];
  const users = new Map((await findUsersByIds(deps.db, deciders)).map((u) => [u.id, u]));
  const stages = [];
  for (const s of release.stages) {
    const policy = storedPolicy(s);
    const d = s.deploymentId ? await findDeploymentById(deps.db, s.deploymentId) : null;
    const decided = s.approvals.map((a) => a.userId);
    const eligible =
      policy.approval.required > 0
        ? members
            .filter((m) => ROLE_RANK.indexOf(m.role) >= ROLE_RANK.indexOf(policy.approval.role))
            .filter((m) => approvalEligibility(policy.approval, { userId: m.userId, email: m.user.email, role: m.role as TReleaseRole }, duties, decided).ok)
            .map((m) => ({ userId: m.userId, email: m.user.email, name: m.user.name }))
        : [];
    const { rollout: _r, ...visiblePolicy } = policy;
    stages.push({
      id: s.id,
      position: s.position,
      environment: {
        id: s.environment.id,
        name: s.environment.name,
        tier: s.environment.tier,
        inferenceUrl: project ? inferenceBaseUrl(s.environment, project.slug, options.gatewayPublicUrl) : null,
        frozen: s.environment.frozenAt ? { at: s.environment.frozenAt, reason: s.environment.frozenReason, byId: s.environment.frozenById } : null,
      },
      state: s.state,
      reason: s.reason,
      policy: visiblePolicy,
      soak: s.state === "soaking" ? { startedAt: s.soakStartedAt, seconds: policy.soakSeconds, remainingSeconds: soakRemainingSeconds({ state: s.state, policy, soakStartedAt: s.soakStartedAt }, now) } : null,
      approvals: {
        required: policy.approval.required,
        received: s.approvals.filter((a) => a.decision === "approved").length,
        decisions: s.approvals.map((a) => ({ userId: a.userId, email: users.get(a.userId)?.email ?? null, decision: a.decision, comment: a.comment, at: a.createdAt })),
        eligibleApprovers: eligible,
      },
      promoteRequestedAt: s.promoteRequestedAt,
      startedAt: s.startedAt,
      finishedAt: s.finishedAt,
      deployment: d
        ? { id: d.id, state: d.state, reason: d.reason, strategy: d.strategy, variants: d.variants.map((v) => ({ role: v.role, modelVersionId: v.modelVersionId, servedModelName: v.servedModelName, weightBps: v.weightBps, status: v.status })) }
        : null,
    });
  }
  return {
    id: release.id,
    projectId: release.projectId,
    runId: release.runId,
    run: release.run,
    modelVersion: release.modelVersion,
    endpointName: release.endpointName,
    state: release.state,
    reason: release.reason,
    requestedById: release.requestedById,
    pushedById: release.pushedById,
    pushedByIdentity: release.pushedByIdentity,
    specEditedById: release.specEditedById,
    createdAt: release.createdAt,
    finishedAt: release.finishedAt,
    stages,
  };
}
