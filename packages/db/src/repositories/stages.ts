// Stage attempts of a run. (runId, stage, attempt) is unique, so creating one twice finds the first.
import type { DbOrTx } from "../client.ts";
import { Prisma } from "../generated/prisma/client.ts";
import type { ExecutorKind, StageName, StageStatus } from "../generated/prisma/enums.ts";
import { columnList, newId, setList, type TColumnType } from "./raw-sql.ts";
import { runSelect, type TRunRow } from "./runs.ts";

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

const STAGE_COLUMNS = columnList(stageSelect);

/** The attempt's row, created queued when it does not exist: one INSERT … ON CONFLICT DO NOTHING (a read only when it existed). */
export async function ensureStageRun(db: DbOrTx, runId: string, stage: StageName, attempt: number): Promise<TStageRow> {
  const now = new Date();
  const [created] = await db.$queryRaw<TStageRow[]>`
    INSERT INTO "StageRun" ("id", "runId", "stage", "attempt", "status", "createdAt", "updatedAt")
    VALUES (${newId()}, ${runId}, CAST(${stage} AS "StageName"), ${attempt}, 'queued', ${now}, ${now})
    ON CONFLICT ("runId", "stage", "attempt") DO NOTHING
    RETURNING ${STAGE_COLUMNS}`;
  if (created) return created;
  const existing = await findStageRun(db, runId, stage, attempt);
  if (!existing) throw new Error(`stage run ${runId}/${stage}/${attempt} conflicted on insert but cannot be read`);
  return existing;
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

const STAGE_UPDATE_COLUMNS: Record<keyof TStageUpdate, TColumnType> = {
  status: "enum:StageStatus",
  executor: "enum:ExecutorKind",
  externalId: "text",
  exitCode: "integer",
  progress: "double precision",
  step: "integer",
  totalSteps: "integer",
  etaSeconds: "double precision",
  heartbeatAt: "timestamp(3)",
  timeoutSeconds: "integer",
  logsUri: "text",
  error: "text",
  result: "jsonb",
  resumedFromUri: "text",
  resumedFromStep: "integer",
  startedAt: "timestamp(3)",
  finishedAt: "timestamp(3)",
};

/** Compare-and-set on status, one UPDATE: only one of two racing workers moves a stage out of a given status. */
export async function updateStageRunIf(db: DbOrTx, id: string, fromStatuses: StageStatus[], data: TStageUpdate): Promise<boolean> {
  if (fromStatuses.length === 0) return false;
  const set = [...setList(STAGE_UPDATE_COLUMNS, data as Record<string, unknown>), Prisma.sql`"updatedAt" = ${new Date()}`];
  const count = await db.$executeRaw`
    UPDATE "StageRun" SET ${Prisma.join(set)}
    WHERE "id" = ${id} AND "status"::text IN (${Prisma.join(fromStatuses)})`;
  return count === 1;
}

export interface TStageClaim {
  /** The run after the claim (null: deleted). */
  run: TRunRow | null;
  /** The attempt's row after the claim; null when the run is not eligible, or a racing worker took it this instant. */
  stage: TStageRow | null;
  /** This call moved the attempt to running (from pending or queued, or created it running): exactly one caller does. */
  claimed: boolean;
  /** A later attempt of the stage exists. */
  superseded: boolean;
}

const RUN_COLUMNS = columnList(runSelect);
const STAGE_COLUMNS_AS = Prisma.raw(Object.keys(stageSelect).map((k) => `s."${k}" AS "s_${k}"`).join(", "));
const TERMINAL_RUN = Prisma.raw(`('succeeded', 'failed', 'cancelled', 'blocked')`);

/**
 * One statement that takes a stage attempt for a worker. When the run exists, is not finished, is at this stage (or
 * at none yet) and no later attempt exists, it creates the attempt running or moves it from pending/queued to running
 * (startedAt, heartbeatAt; error cleared) and puts the run on this stage, running. Returns the run and attempt as they
 * are afterwards; an attempt already running (a re-delivered job re-attaching), waiting or finished is returned
 * unchanged with claimed false. Two workers racing: the insert's conflict arbiter or the row lock lets exactly one
 * move it; the other sees it running.
 */
export async function claimStageRun(db: DbOrTx, runId: string, stage: StageName, attempt: number): Promise<TStageClaim> {
  const now = new Date();
  const rows = await db.$queryRaw<(TRunRow & Record<string, unknown> & { claimed: boolean; superseded: boolean; eligible: boolean })[]>`
    WITH run0 AS (
      SELECT ${RUN_COLUMNS} FROM "PipelineRun" WHERE "id" = ${runId}
    ), later AS (
      SELECT EXISTS (SELECT 1 FROM "StageRun" WHERE "runId" = ${runId} AND "stage" = CAST(${stage} AS "StageName") AND "attempt" > ${attempt}) AS superseded
    ), eligible AS (
      SELECT 1 FROM run0, later
      WHERE NOT later.superseded AND run0."status"::text NOT IN ${TERMINAL_RUN}
        AND (run0."currentStage" IS NULL OR run0."currentStage" = CAST(${stage} AS "StageName"))
    ), taken AS (
      INSERT INTO "StageRun" ("id", "runId", "stage", "attempt", "status", "startedAt", "heartbeatAt", "createdAt", "updatedAt")
      SELECT ${newId()}, ${runId}, CAST(${stage} AS "StageName"), ${attempt}, 'running', ${now}, ${now}, ${now}, ${now} FROM eligible
      ON CONFLICT ("runId", "stage", "attempt") DO UPDATE
        SET "status" = 'running', "startedAt" = EXCLUDED."startedAt", "heartbeatAt" = EXCLUDED."heartbeatAt", "error" = NULL, "updatedAt" = EXCLUDED."updatedAt"
        WHERE "StageRun"."status" IN ('pending', 'queued')
      RETURNING ${STAGE_COLUMNS}
    ), moved AS (
      UPDATE "PipelineRun" SET "status" = 'running', "currentStage" = CAST(${stage} AS "StageName"), "startedAt" = COALESCE("startedAt", ${now}), "updatedAt" = ${now}
      WHERE "id" = ${runId} AND EXISTS (SELECT 1 FROM eligible) AND "status" IN ('queued', 'running')
        AND ("status" = 'queued' OR "currentStage" IS DISTINCT FROM CAST(${stage} AS "StageName"))
      RETURNING ${RUN_COLUMNS}
    ), run1 AS (
      SELECT * FROM (SELECT *, 1 AS pri FROM moved UNION ALL SELECT *, 2 AS pri FROM run0) r ORDER BY pri LIMIT 1
    ), stage1 AS (
      SELECT *, true AS claimed FROM taken
      UNION ALL
      SELECT ${STAGE_COLUMNS}, false AS claimed FROM "StageRun"
      WHERE "runId" = ${runId} AND "stage" = CAST(${stage} AS "StageName") AND "attempt" = ${attempt}
        AND EXISTS (SELECT 1 FROM eligible) AND NOT EXISTS (SELECT 1 FROM taken)
    )
    SELECT run1.*, (SELECT superseded FROM later) AS superseded, s.claimed,
      ${STAGE_COLUMNS_AS}
    FROM run1 LEFT JOIN (SELECT ${STAGE_COLUMNS}, claimed FROM stage1) s ON true`;
  const row = rows[0];
  if (!row) return { run: null, stage: null, claimed: false, superseded: false };
  const run = Object.fromEntries(Object.keys(runSelect).map((k) => [k, row[k]])) as TRunRow;
  const claimed = row.claimed === true;
  let stageRow = row.s_id ? (Object.fromEntries(Object.keys(stageSelect).map((k) => [k, row[`s_${k}`]])) as TStageRow) : null;
  // Not claimed although the statement's snapshot shows it pending/queued: a racing worker moved it meanwhile (the
  // conflict re-check saw its new status). That worker owns it.
  if (!claimed && stageRow && (stageRow.status === "pending" || stageRow.status === "queued")) stageRow = null;
  return { run, stage: stageRow, claimed, superseded: row.superseded === true };
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
