// Read models of the REST API and dashboard: paginated lists and detail views across runs, registry and serving.
import type { DbOrTx } from "../client.ts";
import type { ApprovalStatus, DeploymentState, RunStatus, SampleReview } from "../generated/prisma/enums.ts";
import { approvalSelect } from "./approvals.ts";

const runListSelect = {
  id: true,
  projectId: true,
  pipelineId: true,
  number: true,
  status: true,
  trigger: true,
  gitCommit: true,
  gitRef: true,
  currentStage: true,
  error: true,
  requestedById: true,
  createdAt: true,
  startedAt: true,
  finishedAt: true,
  pipeline: { select: { name: true } },
} as const;

/** Newest first; the cursor is the last row's id and pages by (createdAt, id) so equal timestamps are not skipped. */
export async function listRunsPage(
  db: DbOrTx,
  filter: { projectIds: string[]; pipelineId?: string; status?: RunStatus; cursor?: string; limit: number },
) {
  const cursorRow = filter.cursor
    ? await db.pipelineRun.findUnique({ where: { id: filter.cursor }, select: { createdAt: true, id: true } })
    : null;
  return db.pipelineRun.findMany({
    where: {
      projectId: { in: filter.projectIds },
      ...(filter.pipelineId ? { pipelineId: filter.pipelineId } : {}),
      ...(filter.status ? { status: filter.status } : {}),
      ...(cursorRow
        ? { OR: [{ createdAt: { lt: cursorRow.createdAt } }, { createdAt: cursorRow.createdAt, id: { lt: cursorRow.id } }] }
        : {}),
    },
    select: runListSelect,
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take: filter.limit,
  });
}

export function findRunDetail(db: DbOrTx, id: string) {
  return db.pipelineRun.findUnique({
    where: { id },
    select: {
      ...runListSelect,
      specVersion: true,
      resolvedSpec: true,
      params: true,
      datasetVersionId: true,
      retryOfRunId: true,
      cancelRequestedAt: true,
      stages: {
        select: {
          id: true,
          stage: true,
          status: true,
          attempt: true,
          executor: true,
          startedAt: true,
          finishedAt: true,
          progress: true,
          step: true,
          totalSteps: true,
          etaSeconds: true,
          heartbeatAt: true,
          error: true,
          logsUri: true,
          resumedFromStep: true,
        },
        orderBy: [{ createdAt: "asc" }, { attempt: "asc" }],
      },
    },
  });
}

export function listEvalSamplesPage(db: DbOrTx, runId: string, filter: { afterIndex?: number; limit: number; review?: SampleReview | "none" }) {
  return db.evalSample.findMany({
    where: {
      runId,
      ...(filter.afterIndex !== undefined ? { index: { gt: filter.afterIndex } } : {}),
      ...(filter.review === "none" ? { review: null } : filter.review ? { review: filter.review } : {}),
    },
    select: { index: true, prompt: true, reference: true, prediction: true, scores: true, review: true, reviewedById: true, reviewedAt: true },
    orderBy: { index: "asc" },
    take: filter.limit,
  });
}

export async function setEvalSampleReview(db: DbOrTx, runId: string, index: number, review: SampleReview, userId: string): Promise<boolean> {
  const updated = await db.evalSample.updateMany({ where: { runId, index }, data: { review, reviewedById: userId, reviewedAt: new Date() } });
  return updated.count > 0;
}

export function findArtifactById(db: DbOrTx, id: string) {
  return db.artifact.findUnique({
    where: { id },
    select: { id: true, runId: true, kind: true, uri: true, sha256: true, sizeBytes: true, metadata: true, createdAt: true },
  });
}

const versionSelect = {
  id: true,
  projectId: true,
  modelName: true,
  version: true,
  runId: true,
  baseModel: true,
  status: true,
  gitCommit: true,
  datasetVersionId: true,
  parentVersionId: true,
  adapterArtifactId: true,
  createdAt: true,
  aliases: { select: { alias: true } },
} as const;

export function listModelVersionsOfProject(db: DbOrTx, projectId: string) {
  return db.modelVersion.findMany({ where: { projectId }, select: versionSelect, orderBy: [{ modelName: "asc" }, { version: "desc" }] });
}

export function findModelVersionDetail(db: DbOrTx, id: string) {
  return db.modelVersion.findUnique({
    where: { id },
    select: {
      ...versionSelect,
      lineage: true,
      run: { select: { number: true, pipelineId: true, evalResults: { select: { metric: true, value: true, threshold: true, comparator: true, passed: true } } } },
      variants: {
        select: {
          id: true,
          role: true,
          weightBps: true,
          status: true,
          deployment: { select: { id: true, state: true, endpointName: true, environment: { select: { id: true, name: true, tier: true } } } },
        },
      },
    },
  });
}

export async function setModelAliasRecord(db: DbOrTx, v: { projectId: string; modelName: string; id: string }, alias: string) {
  await db.modelAlias.upsert({
    where: { projectId_modelName_alias: { projectId: v.projectId, modelName: v.modelName, alias } },
    create: { projectId: v.projectId, modelName: v.modelName, alias, modelVersionId: v.id },
    update: { modelVersionId: v.id },
  });
}

export function listDeploymentsOfProject(db: DbOrTx, projectId: string, filter: { environmentId?: string; state?: DeploymentState }) {
  return db.deployment.findMany({
    where: { projectId, ...(filter.environmentId ? { environmentId: filter.environmentId } : {}), ...(filter.state ? { state: filter.state } : {}) },
    select: {
      id: true,
      environmentId: true,
      endpointName: true,
      strategy: true,
      state: true,
      currentStep: true,
      // The dashboard numbers canary steps out of the policy's steps ("step 2 of 4").
      policy: true,
      runId: true,
      reason: true,
      createdAt: true,
      finishedAt: true,
      variants: { select: { id: true, role: true, weightBps: true, status: true, modelVersionId: true, servedModelName: true } },
    },
    orderBy: { createdAt: "desc" },
    take: 200,
  });
}

export function listApprovalRecords(db: DbOrTx, filter: { projectIds: string[]; status?: ApprovalStatus }) {
  return db.approvalRequest.findMany({
    where: { projectId: { in: filter.projectIds }, ...(filter.status ? { status: filter.status } : {}) },
    select: approvalSelect,
    orderBy: { createdAt: "desc" },
    take: 200,
  });
}
