// Stage attempts of a run. (runId, stage, attempt) is unique, so creating one twice finds the first.
import type { DbOrTx } from "../client.ts";
import type { Prisma } from "../generated/prisma/client.ts";
import type { ExecutorKind, StageName, StageStatus } from "../generated/prisma/enums.ts";

export const stageSelect = {
  id: true,
  runId: true,
  stage: true,
  attempt: true,
  status: true,
  executor: true,
  externalId: true,
  exitCode: true,
  progress: true,
  step: true,
  totalSteps: true,
  etaSeconds: true,
  heartbeatAt: true,
  timeoutSeconds: true,
  logsUri: true,
  error: true,
  result: true,
  resumedFromUri: true,
  resumedFromStep: true,
  createdAt: true,
  startedAt: true,
  finishedAt: true,
} as const;
export type TStageRow = Prisma.StageRunGetPayload<{ select: typeof stageSelect }>;

export function ensureStageRun(db: DbOrTx, runId: string, stage: StageName, attempt: number): Promise<TStageRow> {
  return db.stageRun.upsert({
    where: { runId_stage_attempt: { runId, stage, attempt } },
    create: { runId, stage, attempt, status: "queued" },
    update: {},
    select: stageSelect,
  });
}

export function findStageRun(db: DbOrTx, runId: string, stage: StageName, attempt: number): Promise<TStageRow | null> {
  return db.stageRun.findUnique({ where: { runId_stage_attempt: { runId, stage, attempt } }, select: stageSelect });
}

export function findLatestStageRun(db: DbOrTx, runId: string, stage: StageName): Promise<TStageRow | null> {
  return db.stageRun.findFirst({ where: { runId, stage }, orderBy: { attempt: "desc" }, select: stageSelect });
}

export function listStageRuns(db: DbOrTx, runId: string): Promise<TStageRow[]> {
  return db.stageRun.findMany({ where: { runId }, orderBy: [{ createdAt: "asc" }, { attempt: "asc" }], select: stageSelect });
}

export interface TStageUpdate {
  status?: StageStatus;
  executor?: ExecutorKind | null;
  externalId?: string | null;
  exitCode?: number | null;
  progress?: number | null;
  step?: number | null;
  totalSteps?: number | null;
  etaSeconds?: number | null;
  heartbeatAt?: Date | null;
  timeoutSeconds?: number | null;
  logsUri?: string | null;
  error?: string | null;
  result?: Prisma.InputJsonValue;
  resumedFromUri?: string | null;
  resumedFromStep?: number | null;
  startedAt?: Date | null;
  finishedAt?: Date | null;
}

/** Compare-and-set on status: only one of two racing workers moves a stage out of a given status. */
export async function updateStageRunIf(db: DbOrTx, id: string, fromStatuses: StageStatus[], data: TStageUpdate): Promise<boolean> {
  const res = await db.stageRun.updateMany({ where: { id, status: { in: fromStatuses } }, data });
  return res.count === 1;
}

/** The attempt of `stage` that is currently running for a run, used by heartbeats from workloads. */
export function findRunningStageRun(db: DbOrTx, runId: string, stage?: StageName): Promise<TStageRow | null> {
  return db.stageRun.findFirst({
    where: { runId, status: "running", ...(stage ? { stage } : {}) },
    orderBy: { attempt: "desc" },
    select: stageSelect,
  });
}

/** Stage attempts still marked active although their run has ended. */
export async function listOrphanedRunningStages(db: DbOrTx) {
  const rows = await db.stageRun.findMany({
    where: { status: { in: ["running", "waiting", "queued", "pending"] }, run: { status: { in: ["cancelled", "failed", "blocked", "succeeded"] } } },
    select: { id: true, runId: true, stage: true, attempt: true, run: { select: { status: true } } },
    take: 500,
  });
  return rows.map((r) => ({ id: r.id, runId: r.runId, stage: r.stage, attempt: r.attempt, runStatus: r.run.status }));
}
