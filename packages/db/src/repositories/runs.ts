// Pipeline runs and their ingest tokens.
import type { DbOrTx } from "../client.ts";
import { Prisma } from "../generated/prisma/client.ts";
import { setList, type TColumnType } from "./raw-sql.ts";
import type { RunStatus, StageName, TriggerKind } from "../generated/prisma/enums.ts";

export const runSelect = {
  id: true,
  projectId: true,
  pipelineId: true,
  number: true,
  status: true,
  trigger: true,
  gitCommit: true,
  gitRef: true,
  idempotencyKey: true,
  idempotencyBodyHash: true,
  requestedById: true,
  requestedByToken: true,
  specVersion: true,
  resolvedSpec: true,
  datasetVersionId: true,
  sweepId: true,
  params: true,
  retryOfRunId: true,
  currentStage: true,
  error: true,
  cancelRequestedAt: true,
  traceparent: true,
  gateOverrides: true,
  createdAt: true,
  startedAt: true,
  finishedAt: true,
  updatedAt: true,
} as const;
export type TRunRow = Prisma.PipelineRunGetPayload<{ select: typeof runSelect }>;

export const ACTIVE_RUN_STATUSES: RunStatus[] = ["queued", "running", "waiting_approval", "awaiting_review"];

/** Row-locks the run for the rest of the transaction: reviews of one run are serialised so exactly one sees the quota met. */
export async function lockRunRow(tx: DbOrTx, runId: string): Promise<boolean> {
  const rows = await tx.$queryRaw<{ id: string }[]>`SELECT id FROM "PipelineRun" WHERE id = ${runId} FOR UPDATE`;
  return rows.length === 1;
}

export function findRunById(db: DbOrTx, id: string): Promise<TRunRow | null> {
  return db.pipelineRun.findUnique({ where: { id }, select: runSelect });
}

export function findRunByIdempotencyKey(db: DbOrTx, pipelineId: string, idempotencyKey: string): Promise<TRunRow | null> {
  return db.pipelineRun.findUnique({ where: { pipelineId_idempotencyKey: { pipelineId, idempotencyKey } }, select: runSelect });
}

/** Serialises run creation per pipeline for the rest of the transaction (numbering and idempotency checks). */
export async function lockPipelineForRunCreation(tx: DbOrTx, pipelineId: string): Promise<void> {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext('run-create'), hashtext(${pipelineId}))`;
}

export async function nextRunNumber(tx: DbOrTx, pipelineId: string): Promise<number> {
  const agg = await tx.pipelineRun.aggregate({ where: { pipelineId }, _max: { number: true } });
  return (agg._max.number ?? 0) + 1;
}

export interface TRunInsert {
  projectId: string;
  pipelineId: string;
  number: number;
  trigger: TriggerKind;
  gitCommit?: string | null;
  gitRef?: string | null;
  idempotencyKey?: string | null;
  idempotencyBodyHash?: string | null;
  requestedById?: string | null;
  requestedByToken?: string | null;
  specVersion: number;
  resolvedSpec: Prisma.InputJsonValue;
  datasetVersionId: string | null;
  sweepId?: string | null;
  params?: Prisma.InputJsonValue | null;
  retryOfRunId?: string | null;
  traceparent?: string | null;
}

export function insertRun(tx: DbOrTx, data: TRunInsert): Promise<TRunRow> {
  const { params, ...rest } = data;
  return tx.pipelineRun.create({ data: { ...rest, ...(params == null ? {} : { params }) }, select: runSelect });
}

export interface TRunUpdate {
  status?: RunStatus;
  currentStage?: StageName | null;
  error?: string | null;
  cancelRequestedAt?: Date | null;
  startedAt?: Date | null;
  finishedAt?: Date | null;
  /** This run's gate threshold overrides (see ZGateOverride in core). */
  gateOverrides?: Prisma.InputJsonValue;
}

const RUN_UPDATE_COLUMNS: Record<keyof TRunUpdate, TColumnType> = {
  status: "enum:RunStatus",
  currentStage: "enum:StageName",
  error: "text",
  cancelRequestedAt: "timestamp(3)",
  startedAt: "timestamp(3)",
  finishedAt: "timestamp(3)",
  gateOverrides: "jsonb",
};

/** Updates a run only while it is in one of `fromStatuses`; returns whether it did (a compare-and-set). */
export async function updateRunIf(db: DbOrTx, id: string, fromStatuses: RunStatus[], data: TRunUpdate): Promise<boolean> {
  if (fromStatuses.length === 0) return false;
  // One UPDATE (Prisma's updateMany would send BEGIN, SELECT, UPDATE, COMMIT).
  const set = [...setList(RUN_UPDATE_COLUMNS, data as Record<string, unknown>), Prisma.sql`"updatedAt" = ${new Date()}`];
  const count = await db.$executeRaw`
    UPDATE "PipelineRun" SET ${Prisma.join(set)}
    WHERE "id" = ${id} AND "status"::text IN (${Prisma.join(fromStatuses)})`;
  return count === 1;
}

export function listActiveRunIds(db: DbOrTx, limit = 1000): Promise<{ id: string; status: RunStatus }[]> {
  return db.pipelineRun.findMany({
    where: { status: { in: ACTIVE_RUN_STATUSES } },
    select: { id: true, status: true },
    orderBy: { createdAt: "asc" },
    take: limit,
  });
}

export function findRunsByCommitSha(db: DbOrTx, projectId: string, sha: string) {
  // Short SHAs are accepted as prefixes, as in git.
  return db.pipelineRun.findMany({
    where: { projectId, gitCommit: sha.length >= 40 ? sha : { startsWith: sha } },
    select: {
      id: true,
      number: true,
      status: true,
      pipelineId: true,
      gitCommit: true,
      gitRef: true,
      createdAt: true,
      modelVersions: { select: { id: true, modelName: true, version: true, status: true } },
    },
    orderBy: { createdAt: "desc" },
  });
}

export function insertRunToken(db: DbOrTx, data: { runId: string; stage: StageName; attempt: number; secretHash: string; expiresAt: Date }) {
  return db.runToken.create({ data, select: { id: true, expiresAt: true } });
}

/** A token of this run that is neither expired nor revoked (its stage attempt is checked by the caller). */
export function findValidRunToken(db: DbOrTx, runId: string, secretHash: string, now: Date) {
  return db.runToken.findFirst({
    where: { runId, secretHash, expiresAt: { gt: now }, revokedAt: null },
    select: { id: true, runId: true, stage: true, attempt: true, expiresAt: true },
  });
}

/** Revokes every token issued for one stage attempt; returns how many were still live. */
export async function revokeRunTokens(db: DbOrTx, runId: string, stage: StageName, attempt: number, now = new Date()): Promise<number> {
  return db.$executeRaw`
    UPDATE "RunToken" SET "revokedAt" = ${now}
    WHERE "runId" = ${runId} AND "stage" = CAST(${stage} AS "StageName") AND "attempt" = ${attempt} AND "revokedAt" IS NULL`;
}

/** Revokes every live token of a run (the run was cancelled: none of its workloads may report any more). */
export async function revokeAllRunTokens(db: DbOrTx, runId: string, now = new Date()): Promise<number> {
  const { count } = await db.runToken.updateMany({ where: { runId, revokedAt: null }, data: { revokedAt: now } });
  return count;
}
