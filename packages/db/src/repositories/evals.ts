// Evaluation results (one row per metric of a run) and the per-sample outputs behind them.
import type { DbOrTx } from "../client.ts";
import type { Prisma } from "../generated/prisma/client.ts";

export const evalResultSelect = {
  id: true,
  runId: true,
  metric: true,
  value: true,
  split: true,
  threshold: true,
  comparator: true,
  blocking: true,
  passed: true,
  reason: true,
} as const;
export type TEvalResultRow = Prisma.EvalResultGetPayload<{ select: typeof evalResultSelect }>;

export async function upsertEvalResults(db: DbOrTx, runId: string, split: string, metrics: Record<string, number>): Promise<void> {
  for (const [metric, value] of Object.entries(metrics)) {
    await db.evalResult.upsert({
      where: { runId_metric: { runId, metric } },
      create: { runId, metric, value, split },
      update: { value, split },
    });
  }
}

export interface TEvalVerdict {
  metric: string;
  value: number | null;
  threshold: number;
  comparator: string;
  blocking: boolean;
  passed: boolean;
  reason: string;
}

/** Records the gate's verdict next to each metric; a threshold on a metric never reported gets a row with value NaN. */
export async function recordGateVerdicts(db: DbOrTx, runId: string, split: string, verdicts: readonly TEvalVerdict[]): Promise<void> {
  for (const v of verdicts) {
    const data = { threshold: v.threshold, comparator: v.comparator, blocking: v.blocking, passed: v.passed, reason: v.reason };
    await db.evalResult.upsert({
      where: { runId_metric: { runId, metric: v.metric } },
      create: { runId, metric: v.metric, value: v.value ?? Number.NaN, split, ...data },
      update: data,
    });
  }
}

export function listEvalResults(db: DbOrTx, runId: string): Promise<TEvalResultRow[]> {
  return db.evalResult.findMany({ where: { runId }, select: evalResultSelect, orderBy: { metric: "asc" } });
}

export interface TEvalSampleInput {
  index: number;
  prompt: string;
  reference: string;
  prediction: string;
  scores: Prisma.InputJsonValue;
}

export async function insertEvalSamples(db: DbOrTx, runId: string, samples: readonly TEvalSampleInput[]): Promise<number> {
  let written = 0;
  for (let i = 0; i < samples.length; i += 1000) {
    const res = await db.evalSample.createMany({ data: samples.slice(i, i + 1000).map((s) => ({ runId, ...s })), skipDuplicates: true });
    written += res.count;
  }
  return written;
}

/** Share of human-reviewed samples marked good, or null when nobody reviewed any. */
export async function findHumanReviewPassRate(db: DbOrTx, runId: string): Promise<{ rate: number | null; reviewed: number }> {
  const [good, reviewed] = await Promise.all([
    db.evalSample.count({ where: { runId, review: "good" } }),
    db.evalSample.count({ where: { runId, review: { not: null } } }),
  ]);
  return { rate: reviewed === 0 ? null : good / reviewed, reviewed };
}

/** Samples recorded for a run, how many a person reviewed, and how many of those were marked good. */
export async function countEvalSampleReviews(db: DbOrTx, runId: string): Promise<{ total: number; reviewed: number; good: number }> {
  const [total, reviewed, good] = await Promise.all([
    db.evalSample.count({ where: { runId } }),
    db.evalSample.count({ where: { runId, review: { not: null } } }),
    db.evalSample.count({ where: { runId, review: "good" } }),
  ]);
  return { total, reviewed, good };
}
