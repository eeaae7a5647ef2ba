// Artifacts are keyed by (run, uri): a manifest reported twice (retried request, re-read stdout) updates in place.
import type { DbOrTx } from "../client.ts";
import type { Prisma } from "../generated/prisma/client.ts";
import type { ArtifactKind } from "../generated/prisma/enums.ts";

export const artifactSelect = {
  id: true,
  runId: true,
  stageRunId: true,
  kind: true,
  uri: true,
  sha256: true,
  sizeBytes: true,
  metadata: true,
  createdAt: true,
} as const;
export type TArtifactRow = Prisma.ArtifactGetPayload<{ select: typeof artifactSelect }>;

export interface TArtifactInput {
  kind: ArtifactKind;
  uri: string;
  sha256?: string | null;
  sizeBytes?: bigint | number | null;
  metadata?: Prisma.InputJsonValue;
}

export async function upsertArtifacts(db: DbOrTx, runId: string, stageRunId: string | null, items: readonly TArtifactInput[]): Promise<TArtifactRow[]> {
  const out: TArtifactRow[] = [];
  for (const a of items) {
    const data = {
      kind: a.kind,
      sha256: a.sha256 ?? null,
      sizeBytes: a.sizeBytes == null ? null : BigInt(a.sizeBytes),
      stageRunId,
      ...(a.metadata === undefined ? {} : { metadata: a.metadata }),
    };
    out.push(
      await db.artifact.upsert({
        where: { runId_uri: { runId, uri: a.uri } },
        create: { runId, uri: a.uri, ...data },
        update: data,
        select: artifactSelect,
      }),
    );
  }
  return out;
}

export function listRunArtifacts(db: DbOrTx, runId: string, kind?: ArtifactKind): Promise<TArtifactRow[]> {
  return db.artifact.findMany({ where: { runId, ...(kind ? { kind } : {}) }, select: artifactSelect, orderBy: { createdAt: "asc" } });
}

export function findArtifactsByUris(db: DbOrTx, runId: string, uris: readonly string[]): Promise<TArtifactRow[]> {
  return db.artifact.findMany({ where: { runId, uri: { in: [...uris] } }, select: artifactSelect });
}

/** Adapter artifacts one stage attempt reported, oldest first. */
export function listStageRunAdapters(db: DbOrTx, stageRunId: string): Promise<TArtifactRow[]> {
  return db.artifact.findMany({ where: { stageRunId, kind: "adapter" }, select: artifactSelect, orderBy: { createdAt: "asc" } });
}

/** Checkpoints reported by earlier attempts of a run's stage (a retried train attempt continues from the newest). */
export function listEarlierAttemptCheckpoints(db: DbOrTx, runId: string, stage: "train", beforeAttempt: number): Promise<(TArtifactRow & { attempt: number })[]> {
  return db.artifact
    .findMany({
      where: { runId, kind: "checkpoint", stageRun: { stage, attempt: { lt: beforeAttempt } } },
      select: { ...artifactSelect, stageRun: { select: { attempt: true } } },
      orderBy: { createdAt: "desc" },
    })
    .then((rows) => rows.map(({ stageRun, ...a }) => ({ ...a, attempt: stageRun!.attempt })));
}
