// Releases: one model version moving through a pipeline's ordered environments, one ReleaseStage per environment.
import type { DbOrTx } from "../client.ts";
import type { Prisma } from "../generated/prisma/client.ts";
import type { ReleaseStageState, ReleaseState } from "../generated/prisma/enums.ts";

const approvalSelect = { id: true, userId: true, decision: true, comment: true, createdAt: true } as const;

const stageSelect = {
  id: true,
  releaseId: true,
  environmentId: true,
  position: true,
  state: true,
  reason: true,
  policy: true,
  deploymentId: true,
  promoteRequestedAt: true,
  promoteRequestedById: true,
  startedAt: true,
  soakStartedAt: true,
  finishedAt: true,
  createdAt: true,
  updatedAt: true,
  environment: { select: { id: true, name: true, tier: true, requiresApproval: true, gatewayUrl: true, frozenAt: true, frozenReason: true, frozenById: true } },
  approvals: { select: approvalSelect, orderBy: { createdAt: "asc" } },
} as const;

const releaseSelect = {
  id: true,
  projectId: true,
  runId: true,
  modelVersionId: true,
  endpointName: true,
  state: true,
  reason: true,
  requestedById: true,
  pushedById: true,
  pushedByIdentity: true,
  specEditedById: true,
  createdAt: true,
  updatedAt: true,
  finishedAt: true,
  modelVersion: { select: { id: true, modelName: true, version: true, status: true } },
  run: { select: { id: true, number: true, pipelineId: true } },
  stages: { select: stageSelect, orderBy: { position: "asc" } },
} as const;

export type TReleaseApprovalRow = { id: string; userId: string; decision: string; comment: string | null; createdAt: Date };

export type TReleaseStageRow = {
  id: string;
  releaseId: string;
  environmentId: string;
  position: number;
  state: ReleaseStageState;
  reason: string | null;
  policy: unknown;
  deploymentId: string | null;
  promoteRequestedAt: Date | null;
  promoteRequestedById: string | null;
  startedAt: Date | null;
  soakStartedAt: Date | null;
  finishedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
  environment: {
    id: string;
    name: string;
    tier: "dev" | "staging" | "prod";
    requiresApproval: boolean;
    gatewayUrl: string | null;
    frozenAt: Date | null;
    frozenReason: string | null;
    frozenById: string | null;
  };
  approvals: TReleaseApprovalRow[];
};

export type TReleaseRow = {
  id: string;
  projectId: string;
  runId: string | null;
  modelVersionId: string;
  endpointName: string;
  state: ReleaseState;
  reason: string | null;
  requestedById: string | null;
  pushedById: string | null;
  pushedByIdentity: string | null;
  specEditedById: string | null;
  createdAt: Date;
  updatedAt: Date;
  finishedAt: Date | null;
  modelVersion: { id: string; modelName: string; version: number; status: string };
  run: { id: string; number: number; pipelineId: string } | null;
  stages: TReleaseStageRow[];
};

export type TReleaseInsert = {
  projectId: string;
  runId: string | null;
  modelVersionId: string;
  endpointName: string;
  requestedById: string | null;
  pushedById: string | null;
  pushedByIdentity: string | null;
  specEditedById: string | null;
  stages: { environmentId: string; position: number; policy: Prisma.InputJsonValue }[];
};

export function insertRelease(db: DbOrTx, data: TReleaseInsert): Promise<TReleaseRow> {
  const { stages, ...rest } = data;
  return db.release.create({ data: { ...rest, stages: { create: stages } }, select: releaseSelect }) as Promise<TReleaseRow>;
}

export function findReleaseById(db: DbOrTx, id: string): Promise<TReleaseRow | null> {
  return db.release.findUnique({ where: { id }, select: releaseSelect }) as Promise<TReleaseRow | null>;
}

export function findReleaseForRun(db: DbOrTx, runId: string): Promise<TReleaseRow | null> {
  return db.release.findUnique({ where: { runId }, select: releaseSelect }) as Promise<TReleaseRow | null>;
}

export function listReleasesOfProject(
  db: DbOrTx,
  projectId: string,
  filter: { state?: ReleaseState; stageState?: ReleaseStageState; environmentId?: string; limit?: number } = {},
): Promise<TReleaseRow[]> {
  const stageWhere = {
    ...(filter.stageState ? { state: filter.stageState } : {}),
    ...(filter.environmentId ? { environmentId: filter.environmentId } : {}),
  };
  return db.release.findMany({
    where: { projectId, ...(filter.state ? { state: filter.state } : {}), ...(Object.keys(stageWhere).length ? { stages: { some: stageWhere } } : {}) },
    select: releaseSelect,
    orderBy: { createdAt: "desc" },
    take: filter.limit ?? 100,
  }) as Promise<TReleaseRow[]>;
}

export function listReleaseIdsInProgress(db: DbOrTx): Promise<{ id: string }[]> {
  return db.release.findMany({ where: { state: "in_progress" }, select: { id: true }, orderBy: { createdAt: "asc" } });
}

/** Locks the release row until the transaction ends: the controller and people's actions on one release serialise. */
export async function lockRelease(db: DbOrTx, id: string): Promise<boolean> {
  const rows = await db.$queryRaw<{ id: string }[]>`SELECT id FROM "Release" WHERE id = ${id} FOR UPDATE`;
  return rows.length > 0;
}

export type TReleaseStagePatch = {
  state?: ReleaseStageState;
  reason?: string | null;
  deploymentId?: string | null;
  promoteRequestedAt?: Date | null;
  promoteRequestedById?: string | null;
  startedAt?: Date | null;
  soakStartedAt?: Date | null;
  finishedAt?: Date | null;
};

export async function updateReleaseStage(db: DbOrTx, id: string, patch: TReleaseStagePatch): Promise<void> {
  await db.releaseStage.update({ where: { id }, data: patch, select: { id: true } });
}

export async function updateRelease(db: DbOrTx, id: string, patch: { state?: ReleaseState; reason?: string | null; finishedAt?: Date | null }): Promise<void> {
  await db.release.update({ where: { id }, data: patch, select: { id: true } });
}

export async function insertReleaseApproval(db: DbOrTx, data: { stageId: string; userId: string; decision: "approved" | "rejected"; comment: string | null }): Promise<void> {
  await db.releaseApproval.create({ data, select: { id: true } });
}

export function findUsersByIds(db: DbOrTx, ids: string[]): Promise<{ id: string; email: string; name: string | null }[]> {
  return db.user.findMany({ where: { id: { in: ids } }, select: { id: true, email: true, name: true } });
}

/** The user whose e-mail matches (case-insensitive), for recording a git pusher. */
export function findUserIdByEmail(db: DbOrTx, email: string): Promise<{ id: string } | null> {
  return db.user.findFirst({ where: { email: { equals: email, mode: "insensitive" } }, select: { id: true } });
}

export function findRunDuties(db: DbOrTx, runId: string): Promise<{ id: string; requestedById: string | null; pushedById: string | null; pushedByIdentity: string | null; specEditedById: string | null } | null> {
  return db.pipelineRun.findUnique({ where: { id: runId }, select: { id: true, requestedById: true, pushedById: true, pushedByIdentity: true, specEditedById: true } });
}

/** Records who may not approve this run's release: the git pusher and the spec's last editor at trigger time. */
export async function setRunDuties(db: DbOrTx, runId: string, d: { pushedById: string | null; pushedByIdentity: string | null; specEditedById: string | null }): Promise<void> {
  if (!d.pushedById && !d.pushedByIdentity && !d.specEditedById) return;
  await db.pipelineRun.update({ where: { id: runId }, data: d, select: { id: true } });
}

export type TEnvironmentFreeze = { id: string; projectId: string; name: string; frozenAt: Date | null; frozenReason: string | null; frozenById: string | null };

export function findEnvironmentFreeze(db: DbOrTx, id: string): Promise<TEnvironmentFreeze | null> {
  return db.environment.findUnique({ where: { id }, select: { id: true, projectId: true, name: true, frozenAt: true, frozenReason: true, frozenById: true } });
}

export function setEnvironmentFreeze(db: DbOrTx, id: string, freeze: { frozenAt: Date | null; frozenReason: string | null; frozenById: string | null }): Promise<TEnvironmentFreeze> {
  return db.environment.update({ where: { id }, data: freeze, select: { id: true, projectId: true, name: true, frozenAt: true, frozenReason: true, frozenById: true } });
}
