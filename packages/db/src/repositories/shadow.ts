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

export type TShadowSampleRow = TShadowSampleWrite & { id: bigint; createdAt: Date };

export function listShadowSamples(db: DbOrTx, deploymentId: string, limit = 10_000): Promise<TShadowSampleRow[]> {
  return db.shadowSample.findMany({ where: { deploymentId }, orderBy: { id: "asc" }, take: limit });
}

export function countShadowSamples(db: DbOrTx, deploymentId: string): Promise<number> {
  return db.shadowSample.count({ where: { deploymentId } });
}
