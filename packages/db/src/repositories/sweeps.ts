// Sweeps: a set of sibling runs over expanded hyperparameter points. The scheduler's decisions are made from these
// rows (see decideSweepStep in @loraplane/core), so everything it needs is read here.
import type { DbOrTx } from "../client.ts";
import type { Prisma, RunStatus } from "../generated/prisma/client.ts";

export const sweepSelect = {
  id: true,
  projectId: true,
  pipelineId: true,
  spec: true,
  objectiveMetric: true,
  direction: true,
  bestRunId: true,
  bestValue: true,
  concurrency: true,
  points: true,
  status: true,
  createdById: true,
  createdAt: true,
  finishedAt: true,
} as const;
export type TSweepRow = Prisma.SweepGetPayload<{ select: typeof sweepSelect }>;

export interface TSweepInsert {
  projectId: string;
  pipelineId: string;
  spec: Prisma.InputJsonValue;
  objectiveMetric: string;
  direction: "max" | "min";
  concurrency: number;
  points: Prisma.InputJsonValue;
  createdById: string | null;
}

export function insertSweep(db: DbOrTx, data: TSweepInsert): Promise<TSweepRow> {
  return db.sweep.create({ data: { ...data, status: "running" }, select: sweepSelect });
}

export function findSweepById(db: DbOrTx, id: string): Promise<TSweepRow | null> {
  return db.sweep.findUnique({ where: { id }, select: sweepSelect });
}

export function listSweepsOfPipeline(db: DbOrTx, pipelineId: string, limit = 50): Promise<TSweepRow[]> {
  return db.sweep.findMany({ where: { pipelineId }, select: sweepSelect, orderBy: { createdAt: "desc" }, take: limit });
}

export function listRunningSweepIds(db: DbOrTx, limit = 500): Promise<{ id: string }[]> {
  return db.sweep.findMany({ where: { status: { in: ["running", "cancelling"] } }, select: { id: true }, orderBy: { createdAt: "asc" }, take: limit });
}

/** A sibling run as the scheduler and the sweep page see it. */
export interface TSweepRunRow {
  id: string;
  number: number;
  status: RunStatus;
  idempotencyKey: string | null;
  params: Prisma.JsonValue;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

export function listSweepRuns(db: DbOrTx, sweepId: string): Promise<TSweepRunRow[]> {
  return db.pipelineRun.findMany({
    where: { sweepId },
    select: { id: true, number: true, status: true, idempotencyKey: true, params: true, createdAt: true, startedAt: true, finishedAt: true },
    orderBy: { number: "asc" },
  });
}

/** The eval results of many runs at once (metric → value per run); NaN (a threshold on a missing metric) is left out. */
export async function listEvalValuesOfRuns(db: DbOrTx, runIds: readonly string[]): Promise<Map<string, Record<string, number>>> {
  const rows = runIds.length === 0 ? [] : await db.evalResult.findMany({ where: { runId: { in: [...runIds] } }, select: { runId: true, metric: true, value: true } });
  const out = new Map<string, Record<string, number>>();
  for (const r of rows) {
    if (!Number.isFinite(r.value)) continue;
    const m = out.get(r.runId) ?? {};
    m[r.metric] = r.value;
    out.set(r.runId, m);
  }
  return out;
}

/**
 * Takes the sweep's scheduling lock for the rest of the transaction without waiting: false when another caller is
 * advancing the same sweep (it will see the same state; the worker's reconcile tick catches anything missed).
 */
export async function tryLockSweep(tx: DbOrTx, sweepId: string): Promise<boolean> {
  const rows = await tx.$queryRaw<{ locked: boolean }[]>`SELECT pg_try_advisory_xact_lock(hashtext('sweep-advance'), hashtext(${sweepId})) AS locked`;
  return rows[0]?.locked === true;
}

export async function updateSweep(
  db: DbOrTx,
  id: string,
  data: { status?: string; bestRunId?: string | null; bestValue?: number | null; finishedAt?: Date | null },
): Promise<void> {
  await db.sweep.update({ where: { id }, data });
}
