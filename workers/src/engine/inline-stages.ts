// Stages that run inside the worker: resolving inputs, the gate, registration, approval, deployment hand-off.
import { access } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { evaluateGate, gateThresholds, reviewProgress, type TPipelineSpec } from "@loraplane/core";
import {
  enqueueWebhookDeliveries,
  ensureApprovalRequest,
  findDatasetVersionForRun,
  findDeploymentById,
  findEnvironmentsByName,
  countEvalSampleReviews,
  findLatestStageRun,
  findModelVersionOfRun,
  listEvalResults,
  recordGateVerdicts,
  type DbOrTx,
  type TRunRow,
} from "@loraplane/db";
import { createReleaseForRun, datasetPathOf, measureDatasetDigest, recordAudit, registerModelVersion, resolveInsidePrefix, startDeployment, storedOverrides } from "@loraplane/services";
import type { TEngineContext } from "./context.ts";
import type { TStageOutcome } from "./outcome.ts";

const exists = (p: string) => access(p).then(() => true, () => false);

/**
 * Resolves and verifies the run's inputs: the dataset version must lie under the project's storage prefix after
 * realpath (datasets/storage.ts in services) and its files must hash to the digest given at registration; a mismatch
 * fails the run naming both digests. The local executor also needs a local base model directory.
 */
export async function runPrepare(ctx: TEngineContext, run: TRunRow, spec: TPipelineSpec): Promise<TStageOutcome> {
  const dv = run.datasetVersionId ? await findDatasetVersionForRun(ctx.db, run.datasetVersionId) : null;
  if (!dv) return { status: "failed", reason: `dataset version ${spec.dataset.name}@${spec.dataset.version} no longer exists` };
  const label = `dataset ${dv.dataset.name}@${dv.version}`;
  const located = datasetPathOf(dv.uri, run.projectId, [ctx.executor.dataRoot]);
  if (!located.ok) return { status: "failed", reason: `${label}: uri ${dv.uri} ${located.reason}` };
  const hostDir = ctx.executor.hostPath(located.path);
  const hostPrefix = ctx.executor.hostPath(located.prefix);
  if (hostDir === null || hostPrefix === null) {
    return { status: "failed", reason: `${label}: the worker cannot read ${located.path} to verify its digest (mount the data volume in the worker and set K8S_DATA_DIR)` };
  }
  const resolved = await resolveInsidePrefix(hostDir, hostPrefix);
  if (!resolved.ok) return { status: "failed", reason: `${label}: ${resolved.reason}` };
  for (const split of new Set(["train", spec.eval.split])) {
    if (!(await exists(path.join(resolved.realPath, `${split}.jsonl`)))) return { status: "failed", reason: `${label} has no ${split}.jsonl in ${located.path}` };
  }
  const measured = await measureDatasetDigest(resolved.realPath);
  if (!measured.ok) return { status: "failed", reason: `${label}: ${measured.reason}` };
  if (measured.sha256 !== dv.sha256) {
    return { status: "failed", reason: `${label} does not match its registered digest: registered sha256 ${dv.sha256}, the files at ${located.path} hash to ${measured.sha256}` };
  }
  for (const [split, info] of Object.entries((dv.splits ?? {}) as Record<string, { sha256?: string }>)) {
    const got = measured.splits[split];
    if (info?.sha256 && got !== info.sha256) {
      return { status: "failed", reason: `${label}: split ${split} does not match its registered digest: registered sha256 ${info.sha256}, the file hashes to ${got ?? "nothing (missing)"}` };
    }
  }
  // The workload reads what was verified: the real path locally, the same path inside the Job's project mount.
  const dataDir = ctx.executor.kind === "local" ? resolved.realPath : located.path;
  let baseModel = spec.model.baseModel;
  if (ctx.executor.kind === "local") {
    if (baseModel.startsWith("file://")) baseModel = fileURLToPath(baseModel);
    if (/^[a-z][a-z0-9+.-]*:\/\//.test(baseModel)) return { status: "failed", reason: `the local executor needs a local base model path; got ${baseModel}` };
    baseModel = path.resolve(baseModel);
    if (!(await exists(path.join(baseModel, "config.json")))) return { status: "failed", reason: `base model not found: ${baseModel} (expected a directory with config.json)` };
  }
  return { status: "succeeded", result: { dataDir, baseModel, datasetVersionId: dv.id, datasetSha256: measured.sha256 } };
}

/**
 * The evaluation gate. With gate.review.required it first waits (run `awaiting_review`) until the review quota is met;
 * then it compares the metrics, human_review_pass_rate included, with the spec's thresholds and this run's overrides.
 * The verdicts and the audit entry are written by the stage runner only if this attempt's transition wins.
 */
export async function runGate(ctx: TEngineContext, run: TRunRow, spec: TPipelineSpec): Promise<TStageOutcome> {
  const review = spec.gate?.review;
  const counts = await countEvalSampleReviews(ctx.db, run.id);
  if (review?.required) {
    const progress = reviewProgress(review, counts);
    if (!progress.met) return { status: "waiting", result: { review: progress } };
  }
  const evals = await listEvalResults(ctx.db, run.id);
  const metrics: Record<string, number> = Object.fromEntries(evals.filter((e) => Number.isFinite(e.value) && e.metric !== "human_review_pass_rate").map((e) => [e.metric, e.value]));
  if (counts.reviewed > 0) metrics.human_review_pass_rate = counts.good / counts.reviewed;
  const overrides = storedOverrides(run);
  const verdict = evaluateGate(gateThresholds(spec, overrides), metrics);
  const result = { passed: verdict.passed, checks: verdict.checks.map((c) => ({ metric: c.metric, passed: c.passed, reason: c.reason })), reviewed: counts.reviewed, overrides: overrides.map((o) => o.metric) };
  const commit = async (tx: DbOrTx) => {
    await recordGateVerdicts(tx, run.id, spec.eval.split, verdict.checks);
    await recordAudit(tx, { type: "system", userId: null }, { projectId: run.projectId, action: "run.gate_evaluated", subjectType: "run", subjectId: run.id, after: result });
  };
  return verdict.passed ? { status: "succeeded", result, commit } : { status: "blocked", reason: verdict.reason!, result, commit };
}

export async function runRegister(ctx: TEngineContext, run: TRunRow): Promise<TStageOutcome> {
  // A sweep's sibling runs register nothing on their own: only the sweep's best is registered ("register the best").
  if (run.sweepId) return { status: "succeeded", result: { skipped: true, reason: `sweep point: only the best run of sweep ${run.sweepId} is registered, by a person` } };
  const { version, created } = await registerModelVersion(ctx.db, run.id);
  return { status: "succeeded", result: { modelVersionId: version.id, modelName: version.modelName, version: version.version, created } };
}

async function targetEnvironment(ctx: TEngineContext, run: TRunRow, spec: TPipelineSpec) {
  const name = spec.deploy!.environments[0]!;
  const [env] = await findEnvironmentsByName(ctx.db, run.projectId, [name]);
  return env ?? null;
}

/** The run's deploy target is the first environment of deploy.environments; later ones are promoted from there. */
export async function runApprove(ctx: TEngineContext, run: TRunRow, spec: TPipelineSpec): Promise<TStageOutcome> {
  const env = await targetEnvironment(ctx, run, spec);
  if (!env) return { status: "failed", reason: `environment "${spec.deploy!.environments[0]}" no longer exists` };
  if (!env.requiresApproval) return { status: "succeeded", result: { approval: "not required", environment: env.name } };
  const version = await findModelVersionOfRun(ctx.db, run.id, spec.model.name);
  const approval = await ensureApprovalRequest(ctx.db, {
    projectId: run.projectId,
    environmentId: env.id,
    subjectType: "run",
    subjectId: run.id,
    summary: `Deploy ${spec.model.name}${version ? ` v${version.version}` : ""} (run #${run.number}) to ${env.name} on endpoint ${spec.deploy!.endpointName}`,
    requestedById: run.requestedById,
  });
  if (approval.status === "pending") {
    // Once per request and subscription (the event id is the approval's): the stage may run again after a crash.
    await enqueueWebhookDeliveries(ctx.db, run.projectId, "approval.requested", `approval.requested.${approval.id}`, {
      approvalId: approval.id,
      runId: run.id,
      runNumber: run.number,
      environment: env.name,
      summary: approval.summary,
    });
  }
  if (approval.status === "approved") return { status: "succeeded", result: { approvalId: approval.id } };
  if (approval.status === "rejected" || approval.status === "cancelled") return { status: "blocked", reason: `approval ${approval.status}${approval.comment ? `: ${approval.comment}` : ""}` };
  return { status: "waiting", result: { approvalId: approval.id, environment: env.name } };
}

export async function runDeploy(ctx: TEngineContext, run: TRunRow, spec: TPipelineSpec): Promise<TStageOutcome> {
  const deploy = spec.deploy!;
  const env = await targetEnvironment(ctx, run, spec);
  if (!env) return { status: "failed", reason: `environment "${deploy.environments[0]}" no longer exists` };
  const register = await findLatestStageRun(ctx.db, run.id, "register");
  const modelVersionId = (register?.result as { modelVersionId?: string } | null)?.modelVersionId;
  if (!modelVersionId) return { status: "failed", reason: "no registered model version to deploy" };
  const policy = {
    slo: { p99LatencyMs: deploy.slo.p99LatencyMs, ttftP95Ms: deploy.slo.ttftP95Ms, errorRate: deploy.slo.maxErrorRate },
    canary: { stepsBps: deploy.canary.steps, stepSeconds: deploy.canary.analysisWindowSeconds, minRequests: Math.max(1, deploy.canary.minRequests), autoPromote: deploy.autoPromote },
    // Shadow evaluation before the canary, and adaptive A/B allocation, when the spec asks for them.
    ...(deploy.shadow ? { shadow: { enabled: true, ...deploy.shadow } } : {}),
    ...(deploy.ab?.allocation ? { ab: { allocation: deploy.ab.allocation } } : {}),
  };
  const { deploymentId, state } = await startDeployment(
    { db: ctx.db, queue: ctx.queue },
    { runId: run.id, modelVersionId, environmentId: env.id, endpointName: deploy.endpointName, strategy: deploy.strategy, policy },
  );
  // The release carries the version on through the later environments (dev → staging → prod); the run itself finishes
  // with its first environment's rollout.
  const environments = await findEnvironmentsByName(ctx.db, run.projectId, deploy.environments);
  const release = await createReleaseForRun(
    { db: ctx.db, queue: ctx.queue },
    { run: { id: run.id, projectId: run.projectId, requestedById: run.requestedById }, modelVersionId, spec, firstDeploymentId: deploymentId, environments },
  );
  return { status: "succeeded", result: { deploymentId, state, environment: env.name, releaseId: release.id } };
}

/** Waits for the rollout controller to finish the deployment; it nudges the run when it does. */
export async function runRollout(ctx: TEngineContext, run: TRunRow): Promise<TStageOutcome> {
  const deployStage = await findLatestStageRun(ctx.db, run.id, "deploy");
  const deploymentId = (deployStage?.result as { deploymentId?: string } | null)?.deploymentId;
  if (!deploymentId) return { status: "failed", reason: "the deploy stage recorded no deployment" };
  const deployment = await findDeploymentById(ctx.db, deploymentId);
  if (!deployment) return { status: "failed", reason: `deployment ${deploymentId} no longer exists` };
  switch (deployment.state) {
    case "promoted":
      return { status: "succeeded", result: { deploymentId, state: deployment.state } };
    case "rolled_back":
    case "failed":
    case "superseded":
      return { status: "failed", reason: `deployment ${deployment.state}${deployment.reason ? `: ${deployment.reason}` : ""}` };
    default:
      return { status: "waiting", result: { deploymentId, state: deployment.state } };
  }
}
