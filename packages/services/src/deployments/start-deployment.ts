import {
  findActiveDeploymentForEndpoint,
  findDeploymentForRun,
  findEnvironmentForDeploy,
  findEnvironmentFreeze,
  findModelVersionForDeploy,
  findServingInstance,
  findServingVariantForEndpoint,
  hasApprovedRunApproval,
  insertDeployment,
  insertRolloutEvent,
  listEvalResultsForRun,
  lockEndpoint,
  notifyRoutingChange,
  upsertDeploymentApprovalRequest,
  enqueueWebhookDeliveries,
  type TDeploymentInsert,
} from "@loraplane/db";
import { ZRolloutPolicy, adjustPolicyForEval } from "@loraplane/core";
import { z } from "zod";
import { recordAudit, type TActor } from "../audit/index.ts";
import { ConflictError, NotFoundError, ValidationError, parseInput } from "../errors.ts";
import { SYSTEM_ACTOR, afterChange, type TDeploymentDeps } from "./shared.ts";

const id = z.string().min(1).max(64);

export const ZStartDeploymentInput = z.object({
  runId: id.nullable().optional(),
  modelVersionId: id,
  environmentId: id,
  endpointName: z
    .string()
    .min(1)
    .max(63)
    .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, "must be lower-case letters, digits and '-' (a DNS label)"),
  strategy: z.enum(["canary", "blue_green", "ab"]).default("canary"),
  policy: z.unknown().optional(),
});
export type TStartDeploymentInput = z.input<typeof ZStartDeploymentInput> & {
  actor?: TActor;
  /** Set by the release controller, which gathers the stage's approvals itself before it starts the deployment. */
  approvalHandled?: boolean;
  /** A rollback to the environment's last known good version: allowed in a frozen environment, never needs approval. */
  restore?: { reason: string };
};

const NEW_ROLE = { canary: "canary", blue_green: "green", ab: "b" } as const;
const BASE_ROLE = { canary: "stable", blue_green: "blue", ab: "a" } as const;

/** The name the serving backend knows this version's adapter by; stable across restarts and deterministic. */
export function servedModelNameFor(v: { modelName: string; version: number }): string {
  return `${v.modelName}-v${v.version}`.toLowerCase().replace(/[^a-z0-9._-]/g, "-");
}

/**
 * Creates the deployment of a model version onto an endpoint: the endpoint's current production version becomes the
 * stable (blue, a) variant at 100%, the new version a canary (green, b) at 0% that the rollout controller brings up
 * (serving backend for the base model, adapter loaded) and then moves traffic to. Idempotent per (run, environment,
 * endpoint): the engine's deploy stage may call it again after a crash and gets the same deployment back.
 */
export async function startDeployment(deps: TDeploymentDeps, rawInput: TStartDeploymentInput): Promise<{ deploymentId: string; state: string }> {
  const input = parseInput(ZStartDeploymentInput, rawInput);
  const parsedPolicy = ZRolloutPolicy.safeParse(input.policy ?? {});
  if (!parsedPolicy.success) {
    throw new ValidationError(
      `policy: ${parsedPolicy.error.issues[0]?.message ?? "invalid"}`,
      parsedPolicy.error.issues.map((i) => ({ path: ["policy", ...i.path].join("."), message: i.message })),
    );
  }
  const actor = rawInput.actor ?? SYSTEM_ACTOR;
  const { db } = deps;

  if (input.runId) {
    const existing = await findDeploymentForRun(db, input.runId, input.environmentId, input.endpointName);
    if (existing) return { deploymentId: existing.id, state: existing.state };
  }
  const [env, version] = await Promise.all([findEnvironmentForDeploy(db, input.environmentId), findModelVersionForDeploy(db, input.modelVersionId)]);
  if (!env) throw new NotFoundError(`environment ${input.environmentId} not found`, [{ path: "environmentId", message: "not found" }]);
  if (!version) throw new NotFoundError(`model version ${input.modelVersionId} not found`, [{ path: "modelVersionId", message: "not found" }]);
  if (version.projectId !== env.projectId) {
    throw new ValidationError("model version and environment belong to different projects", [{ path: "environmentId", message: "not in the model version's project" }]);
  }
  const freeze = await findEnvironmentFreeze(db, env.id);
  if (freeze?.frozenAt && !rawInput.restore) {
    const why = `environment ${env.name} is frozen: ${freeze.frozenReason ?? "change freeze"}`;
    throw new ConflictError(`cannot deploy: ${why}`, [{ path: "environmentId", message: why }]);
  }

  let policy = parsedPolicy.data;
  const adjustments: string[] = [];
  const runId = input.runId ?? version.runId;
  if (input.strategy === "canary") {
    const adjusted = adjustPolicyForEval(policy, await listEvalResultsForRun(db, runId));
    policy = adjusted.policy;
    adjustments.push(...adjusted.adjustments);
  }

  const result = await db.$transaction(async (tx) => {
    await lockEndpoint(tx, env.id, input.endpointName);
    if (input.runId) {
      const again = await findDeploymentForRun(tx, input.runId, env.id, input.endpointName);
      if (again) return again;
    }
    const active = await findActiveDeploymentForEndpoint(tx, env.id, input.endpointName);
    if (active) {
      throw new ConflictError(`endpoint ${input.endpointName} already has a ${active.state} deployment (${active.id}); finish or roll it back first`, [
        { path: "endpointName", message: `deployment ${active.id} is ${active.state}` },
      ]);
    }
    const serving = await findServingVariantForEndpoint(tx, env.id, input.endpointName);
    if (serving && serving.modelVersionId === version.id) {
      throw new ConflictError(`model version ${version.id} already serves ${input.endpointName}`, [{ path: "modelVersionId", message: "already serving" }]);
    }
    const instance = await findServingInstance(tx, env.id, version.baseModel);
    const variants: TDeploymentInsert["variants"] = [];
    if (serving) {
      variants.push({
        modelVersionId: serving.modelVersionId,
        role: BASE_ROLE[input.strategy],
        weightBps: 10_000,
        upstreamUrl: serving.upstreamUrl,
        servedModelName: serving.servedModelName,
        status: "ready",
      });
    }
    variants.push({
      modelVersionId: version.id,
      role: NEW_ROLE[input.strategy],
      weightBps: 0,
      upstreamUrl: instance?.url ?? "",
      servedModelName: servedModelNameFor(version),
      status: "starting",
    });
    const needsApproval = env.requiresApproval && !rawInput.approvalHandled && !rawInput.restore && !(await hasApprovedRunApproval(tx, runId, env.id));
    const d = await insertDeployment(tx, {
      projectId: env.projectId,
      environmentId: env.id,
      endpointName: input.endpointName,
      strategy: input.strategy,
      state: needsApproval ? "awaiting_approval" : "pending",
      policy,
      runId: input.runId ?? null,
      createdById: actor.userId,
      variants,
    });
    if (needsApproval) {
      const summary = `Deploy ${version.modelName} v${version.version} to ${env.name}/${input.endpointName} (${input.strategy})`;
      const approval = await upsertDeploymentApprovalRequest(tx, { projectId: env.projectId, environmentId: env.id, deploymentId: d.id, summary, requestedById: actor.userId });
      await enqueueWebhookDeliveries(tx, env.projectId, "approval.requested", `approval.requested.${approval.id}`, {
        approvalId: approval.id,
        deploymentId: d.id,
        environment: env.name,
        endpointName: input.endpointName,
        modelName: version.modelName,
        version: version.version,
        summary,
      });
    }
    await insertRolloutEvent(tx, {
      deploymentId: d.id,
      type: "created",
      weights: Object.fromEntries(d.variants.map((v) => [v.role, v.weightBps])),
      reason: [
        serving ? `stable is ${serving.servedModelName}` : "first version on this endpoint",
        needsApproval ? `environment ${env.name} requires approval` : null,
        ...adjustments,
      ]
        .filter(Boolean)
        .join("; "),
      actorId: actor.userId,
    });
    if (rawInput.restore) await insertRolloutEvent(tx, { deploymentId: d.id, type: "restore", reason: rawInput.restore.reason, actorId: actor.userId });
    if (adjustments.length) await insertRolloutEvent(tx, { deploymentId: d.id, type: "policy", reason: adjustments.join("; "), analysis: { canary: policy.canary } });
    await recordAudit(tx, actor, {
      projectId: env.projectId,
      action: "deployment.create",
      subjectType: "deployment",
      subjectId: d.id,
      after: { modelVersionId: version.id, environmentId: env.id, endpointName: input.endpointName, strategy: input.strategy, state: d.state },
    });
    await notifyRoutingChange(tx, d.id);
    return d;
  });
  await afterChange(deps, result, false, "created");
  return { deploymentId: result.id, state: result.state };
}
