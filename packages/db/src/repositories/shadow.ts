import type { DbOrTx } from "../client.ts";

export type TShadowSampleWrite = {
  deploymentId: string;
  variantId: string;
  gatewayId: string;
  requestId: string;
  prompt: string;
  stableText: string;
  candidateText: string | null;
  candidateError: string | null;
  rougeL: number;
  exactMatch: boolean;
  stableRefusal: boolean;
  candidateRefusal: boolean;
  stableChars: number;
  candidateChars: number;
  stableLatencyMs: number;
  candidateLatencyMs: number | null;
  stableTtftMs: number | null;
  candidateTtftMs: number | null;
};

/**
 * Stores mirrored pairs, at most `maxPerDeployment` per deployment (answers are user data: keep no more than the gate
 * needs). Returns, per deployment, how many are stored after the write, so a gateway stops mirroring a full one.
 */
export async function insertShadowSamples(db: DbOrTx, rows: TShadowSampleWrite[], maxPerDeployment: (deploymentId: string) => number): Promise<Map<string, number>> {
  const byDeployment = new Map<string, TShadowSampleWrite[]>();
  for (const r of rows) {
    const list = byDeployment.get(r.deploymentId);
    if (list) list.push(r);
    else byDeployment.set(r.deploymentId, [r]);
  }
  const stored = new Map<string, number>();
  for (const [deploymentId, list] of byDeployment) {
    const have = await db.shadowSample.count({ where: { deploymentId } });
    const room = Math.max(0, maxPerDeployment(deploymentId) - have);
    const take = list.slice(0, room);
    // A deployment deleted since the request was mirrored: its rows have nowhere to go.
    if (take.length) await db.shadowSample.createMany({ data: take }).catch(() => undefined);
    stored.set(deploymentId, have + take.length);
  }
  return stored;
}

export type TShadowSampleRow = TShadowSampleWrite & {
  id: bigint;
  createdAt: Date;
  judgeScore: number | null;
  judgeReason: string | null;
  judgeError: string | null;
  judgeAttempts: number;
};

export function listShadowSamples(db: DbOrTx, deploymentId: string, limit = 10_000): Promise<TShadowSampleRow[]> {
  return db.shadowSample.findMany({ where: { deploymentId }, orderBy: { id: "asc" }, take: limit });
}

export function countShadowSamples(db: DbOrTx, deploymentId: string): Promise<number> {
  return db.shadowSample.count({ where: { deploymentId } });
}

/** Pairs the LLM judge has not scored yet and has tried fewer than `maxAttempts` times, oldest first. */
export function listUnjudgedShadowSamples(db: DbOrTx, deploymentId: string, limit: number, maxAttempts: number): Promise<TShadowSampleRow[]> {
  return db.shadowSample.findMany({ where: { deploymentId, judgeScore: null, judgeAttempts: { lt: maxAttempts } }, orderBy: { id: "asc" }, take: limit });
}

/** One judge attempt: its score and reason, or the error (the pair is tried again while attempts remain). */
export async function recordShadowJudgement(db: DbOrTx, id: bigint, verdict: { score: number; reason: string } | { error: string }): Promise<void> {
  await db.shadowSample.update({
    where: { id },
    data: "error" in verdict ? { judgeError: verdict.error, judgeAttempts: { increment: 1 } } : { judgeScore: verdict.score, judgeReason: verdict.reason, judgeError: null, judgeAttempts: { increment: 1 } },
  });
}

/** The most recent judge error of a deployment's pairs (for the gate's reason when the judge never answers). */
export async function lastShadowJudgeError(db: DbOrTx, deploymentId: string): Promise<string | null> {
  const row = await db.shadowSample.findFirst({ where: { deploymentId, judgeError: { not: null } }, orderBy: { id: "desc" }, select: { judgeError: true } });
  return row?.judgeError ?? null;
}
