import type { DbOrTx } from "../client.ts";
import type { Prisma } from "../generated/prisma/client.ts";
import type { DeploymentState, DeploymentStrategy, VariantRole, VariantStatus } from "../generated/prisma/enums.ts";
import { jsonOrDbNull } from "./json.ts";

/** States in which a deployment owns its endpoint's rollout (only one per endpoint at a time). */
export const ACTIVE_DEPLOYMENT_STATES: DeploymentState[] = ["pending", "awaiting_approval", "progressing", "paused"];

const variantSelect = {
  id: true,
  deploymentId: true,
  modelVersionId: true,
  role: true,
  weightBps: true,
  upstreamUrl: true,
  servedModelName: true,
  status: true,
  updatedAt: true,
} as const;

export type TVariantRow = {
  id: string;
  deploymentId: string;
  modelVersionId: string;
  role: VariantRole;
  weightBps: number;
  upstreamUrl: string;
  servedModelName: string;
  status: VariantStatus;
  updatedAt: Date;
};

const deploymentSelect = {
  id: true,
  projectId: true,
  environmentId: true,
  endpointName: true,
  strategy: true,
  state: true,
  policy: true,
  currentStep: true,
  stepStartedAt: true,
  routingVersion: true,
  runId: true,
  reason: true,
  createdById: true,
  createdAt: true,
  updatedAt: true,
  finishedAt: true,
  variants: { select: variantSelect, orderBy: { createdAt: "asc" } },
} as const;

export type TDeploymentRow = {
  id: string;
  projectId: string;
  environmentId: string;
  endpointName: string;
  strategy: DeploymentStrategy;
  state: DeploymentState;
  policy: unknown;
  currentStep: number;
  stepStartedAt: Date | null;
  routingVersion: number;
  runId: string | null;
  reason: string | null;
  createdById: string | null;
  createdAt: Date;
  updatedAt: Date;
  finishedAt: Date | null;
  variants: TVariantRow[];
};

export function findDeploymentById(db: DbOrTx, id: string): Promise<TDeploymentRow | null> {
  return db.deployment.findUnique({ where: { id }, select: deploymentSelect });
}

/** Locks the deployment row for the rest of the transaction, so concurrent manual and automatic actions serialise. */
export async function lockDeployment(db: DbOrTx, id: string): Promise<boolean> {
  const rows = await db.$queryRaw<{ id: string }[]>`SELECT id FROM "Deployment" WHERE id = ${id} FOR UPDATE`;
  return rows.length > 0;
}

export function findActiveDeploymentForEndpoint(db: DbOrTx, environmentId: string, endpointName: string): Promise<TDeploymentRow | null> {
  return db.deployment.findFirst({
    where: { environmentId, endpointName, state: { in: ACTIVE_DEPLOYMENT_STATES } },
    select: deploymentSelect,
    orderBy: { createdAt: "desc" },
  });
}

export function findDeploymentForRun(db: DbOrTx, runId: string, environmentId: string, endpointName: string): Promise<TDeploymentRow | null> {
  return db.deployment.findFirst({ where: { runId, environmentId, endpointName }, select: deploymentSelect, orderBy: { createdAt: "desc" } });
}

/** The variant serving all traffic of the endpoint's latest routing deployment: what "production" means there now. */
export async function findServingVariantForEndpoint(db: DbOrTx, environmentId: string, endpointName: string): Promise<TVariantRow | null> {
  const latest = await db.deployment.findMany({
    where: { environmentId, endpointName, state: { not: "superseded" } },
    select: { variants: { select: variantSelect } },
    orderBy: { createdAt: "desc" },
    take: 5,
  });
  for (const d of latest) {
    const routed = d.variants.filter((v) => v.weightBps > 0).sort((a, b) => b.weightBps - a.weightBps);
    if (routed[0]) return routed[0];
  }
  return null;
}

export function listActiveDeployments(db: DbOrTx): Promise<TDeploymentRow[]> {
  return db.deployment.findMany({ where: { state: { in: ["progressing"] } }, select: deploymentSelect, orderBy: { createdAt: "asc" } });
}

export function listDeploymentsInStates(db: DbOrTx, states: DeploymentState[]): Promise<TDeploymentRow[]> {
  return db.deployment.findMany({ where: { state: { in: states } }, select: deploymentSelect, orderBy: { createdAt: "asc" } });
}

export type TDeploymentInsert = {
  projectId: string;
  environmentId: string;
  endpointName: string;
  strategy: DeploymentStrategy;
  state: DeploymentState;
  policy: unknown;
  runId?: string | null;
  reason?: string | null;
  createdById?: string | null;
  variants: { modelVersionId: string; role: VariantRole; weightBps: number; upstreamUrl: string; servedModelName: string; status: VariantStatus }[];
};

export function insertDeployment(db: DbOrTx, data: TDeploymentInsert): Promise<TDeploymentRow> {
  const { variants, policy, ...rest } = data;
  return db.deployment.create({
    data: { ...rest, policy: policy as Prisma.InputJsonValue, variants: { create: variants } },
    select: deploymentSelect,
  });
}

export type TDeploymentPatch = {
  state?: DeploymentState;
  currentStep?: number;
  stepStartedAt?: Date | null;
  reason?: string | null;
  finishedAt?: Date | null;
  policy?: unknown;
};

export async function updateDeployment(db: DbOrTx, id: string, patch: TDeploymentPatch): Promise<void> {
  const { policy, ...rest } = patch;
  await db.deployment.update({
    where: { id },
    data: { ...rest, ...(policy !== undefined ? { policy: policy as Prisma.InputJsonValue } : {}) },
  });
}

/**
 * Sets every variant's weight (and optionally status) and bumps the routing version, as one routing change: gateways
 * load the whole set at once, so there is never a moment with weights from two different changes.
 */
export async function setVariantWeights(
  db: DbOrTx,
  deploymentId: string,
  changes: { variantId: string; weightBps: number; status?: VariantStatus }[],
): Promise<number> {
  for (const c of changes) {
    await db.deploymentVariant.update({
      where: { id: c.variantId, deploymentId },
      data: { weightBps: c.weightBps, ...(c.status ? { status: c.status } : {}) },
    });
  }
  const d = await db.deployment.update({ where: { id: deploymentId }, data: { routingVersion: { increment: 1 } }, select: { routingVersion: true } });
  return d.routingVersion;
}

export async function updateVariant(db: DbOrTx, variantId: string, patch: { status?: VariantStatus; upstreamUrl?: string }): Promise<void> {
  await db.deploymentVariant.update({ where: { id: variantId }, data: patch });
}

/** Older finished deployments of the endpoint stop being routing sources once a newer one finished. */
export async function supersedeOlderDeployments(db: DbOrTx, environmentId: string, endpointName: string, keepId: string, before: Date): Promise<number> {
  const r = await db.deployment.updateMany({
    where: { environmentId, endpointName, id: { not: keepId }, createdAt: { lt: before }, state: { in: ["promoted", "rolled_back", "failed"] } },
    data: { state: "superseded" },
  });
  return r.count;
}

export type TRolloutEventInsert = {
  deploymentId: string;
  type: string;
  step?: number | null;
  weights?: unknown;
  analysis?: unknown;
  decision?: string | null;
  reason: string;
  actorId?: string | null;
};

export async function insertRolloutEvent(db: DbOrTx, e: TRolloutEventInsert): Promise<void> {
  await db.rolloutEvent.create({
    data: {
      deploymentId: e.deploymentId,
      type: e.type,
      step: e.step ?? null,
      weights: jsonOrDbNull(e.weights),
      analysis: jsonOrDbNull(e.analysis),
      decision: e.decision ?? null,
      reason: e.reason,
      actorId: e.actorId ?? null,
    },
  });
}

export type TRolloutEventRow = {
  id: string;
  type: string;
  step: number | null;
  weights: unknown;
  analysis: unknown;
  decision: string | null;
  reason: string;
  actorId: string | null;
  createdAt: Date;
};

export function listRolloutEvents(db: DbOrTx, deploymentId: string, limit = 500): Promise<TRolloutEventRow[]> {
  return db.rolloutEvent.findMany({
    where: { deploymentId },
    select: { id: true, type: true, step: true, weights: true, analysis: true, decision: true, reason: true, actorId: true, createdAt: true },
    orderBy: { createdAt: "asc" },
    take: limit,
  });
}

export function findLatestRolloutEvent(db: DbOrTx, deploymentId: string, type: string): Promise<TRolloutEventRow | null> {
  return db.rolloutEvent.findFirst({
    where: { deploymentId, type },
    select: { id: true, type: true, step: true, weights: true, analysis: true, decision: true, reason: true, actorId: true, createdAt: true },
    orderBy: { createdAt: "desc" },
  });
}

/** Routing sources for the gateways: every deployment not yet superseded, with its variants, project slug and environment name. */
export async function listRoutingDeployments(db: DbOrTx): Promise<
  {
    id: string;
    projectId: string;
    projectSlug: string;
    environmentId: string;
    environmentName: string;
    /** The environment opted in to storing prompts and responses (Environment.captureFeedbackData). */
    captureFeedbackData: boolean;
    endpointName: string;
    state: DeploymentState;
    policy: unknown;
    routingVersion: number;
    createdAt: Date;
    variants: TVariantRow[];
  }[]
> {
  const rows = await db.deployment.findMany({
    where: { state: { not: "superseded" } },
    select: {
      id: true,
      projectId: true,
      environmentId: true,
      endpointName: true,
      state: true,
      policy: true,
      routingVersion: true,
      createdAt: true,
      project: { select: { slug: true } },
      environment: { select: { name: true, captureFeedbackData: true } },
      variants: { select: variantSelect, orderBy: { createdAt: "asc" } },
    },
    orderBy: { createdAt: "desc" },
  });
  return rows.map(({ project, environment, ...d }) => ({ ...d, projectSlug: project.slug, environmentName: environment.name, captureFeedbackData: environment.captureFeedbackData }));
}

export function findModelVersionForDeploy(
  db: DbOrTx,
  id: string,
): Promise<{ id: string; projectId: string; modelName: string; version: number; runId: string; baseModel: string; status: string; adapterArtifact: { uri: string; sha256: string | null } | null } | null> {
  return db.modelVersion.findUnique({
    where: { id },
    select: { id: true, projectId: true, modelName: true, version: true, runId: true, baseModel: true, status: true, adapterArtifact: { select: { uri: true, sha256: true } } },
  });
}

export async function setModelVersionStatus(db: DbOrTx, id: string, status: "registered" | "staging" | "production" | "archived" | "rolled_back"): Promise<void> {
  await db.modelVersion.update({ where: { id }, data: { status } });
}

export function findEnvironmentForDeploy(
  db: DbOrTx,
  id: string,
): Promise<{ id: string; projectId: string; name: string; tier: string; namespace: string; requiresApproval: boolean; servingBackend: string } | null> {
  return db.environment.findUnique({
    where: { id },
    select: { id: true, projectId: true, name: true, tier: true, namespace: true, requiresApproval: true, servingBackend: true },
  });
}

export function findApprovalForDeployment(db: DbOrTx, deploymentId: string): Promise<{ id: string; status: string; decidedById: string | null } | null> {
  return db.approvalRequest.findFirst({ where: { deploymentId }, select: { id: true, status: true, decidedById: true }, orderBy: { createdAt: "desc" } });
}

export async function upsertDeploymentApprovalRequest(
  db: DbOrTx,
  data: { projectId: string; environmentId: string; deploymentId: string; summary: string; requestedById?: string | null },
): Promise<{ id: string; status: string }> {
  return db.approvalRequest.upsert({
    where: { subjectType_subjectId_environmentId: { subjectType: "deployment", subjectId: data.deploymentId, environmentId: data.environmentId } },
    create: { ...data, subjectType: "deployment", subjectId: data.deploymentId },
    update: {},
    select: { id: true, status: true },
  });
}

export function listEvalResultsForRun(
  db: DbOrTx,
  runId: string,
): Promise<{ metric: string; value: number; threshold: number | null; comparator: string | null; blocking: boolean; passed: boolean | null }[]> {
  return db.evalResult.findMany({ where: { runId }, select: { metric: true, value: true, threshold: true, comparator: true, blocking: true, passed: true } });
}

/** Queues `deployment.*` webhook deliveries for every active subscription of the project that asked for the event. */
export async function enqueueWebhookDeliveries(db: DbOrTx, projectId: string, event: string, eventId: string, payload: unknown): Promise<number> {
  const subs = await db.webhookSubscription.findMany({ where: { projectId, active: true, events: { has: event } }, select: { id: true } });
  if (subs.length === 0) return 0;
  const r = await db.webhookDelivery.createMany({
    data: subs.map((s) => ({ subscriptionId: s.id, event, eventId, payload: payload as Prisma.InputJsonValue, nextAttemptAt: new Date() })),
    skipDuplicates: true,
  });
  return r.count;
}

/** Tells gateways (LISTEN loraplane_routing) to reload; delivered only when the surrounding transaction commits. */
export async function notifyRoutingChange(db: DbOrTx, deploymentId: string): Promise<void> {
  await db.$executeRaw`SELECT pg_notify('loraplane_routing', ${deploymentId})`;
}

/** Serialises deployment creation per endpoint until the transaction ends (two triggers racing get one deployment). */
export async function lockEndpoint(db: DbOrTx, environmentId: string, endpointName: string): Promise<void> {
  await db.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`endpoint:${environmentId}:${endpointName}`}))`;
}

export async function hasApprovedRunApproval(db: DbOrTx, runId: string, environmentId: string): Promise<boolean> {
  const a = await db.approvalRequest.findFirst({
    where: { subjectType: "run", subjectId: runId, environmentId, status: "approved" },
    select: { id: true },
  });
  return a !== null;
}

export type TVariantForScaleDown = {
  id: string;
  status: VariantStatus;
  servedModelName: string;
  updatedAt: Date;
  deployment: { id: string; environmentId: string; state: DeploymentState; finishedAt: Date | null };
  modelVersion: { baseModel: string };
};

/** Variants that no longer take traffic (drained after a promotion, failed after a rollback). */
export function listVariantsToScaleDown(db: DbOrTx): Promise<TVariantForScaleDown[]> {
  return db.deploymentVariant.findMany({
    where: { status: { in: ["draining", "failed"] }, weightBps: 0 },
    select: {
      id: true,
      status: true,
      servedModelName: true,
      updatedAt: true,
      deployment: { select: { id: true, environmentId: true, state: true, finishedAt: true } },
      modelVersion: { select: { baseModel: true } },
    },
  });
}

/** Whether any other variant that may still receive traffic serves this adapter name in the environment. */
export async function isServedNameInUse(db: DbOrTx, environmentId: string, servedModelName: string, exceptVariantId: string): Promise<boolean> {
  const n = await db.deploymentVariant.count({
    where: {
      id: { not: exceptVariantId },
      servedModelName,
      status: { in: ["starting", "ready"] },
      deployment: { environmentId, state: { not: "superseded" } },
    },
  });
  return n > 0;
}
