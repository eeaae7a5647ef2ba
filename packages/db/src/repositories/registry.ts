// Model registry: versions are numbered per (project, model name); (run, model name) is unique so registering the
// same run twice returns the first version.
import type { DbOrTx } from "../client.ts";
import type { Prisma } from "../generated/prisma/client.ts";

export const modelVersionSelect = {
  id: true,
  projectId: true,
  modelName: true,
  version: true,
  runId: true,
  adapterArtifactId: true,
  baseModel: true,
  status: true,
  gitCommit: true,
  datasetVersionId: true,
  parentVersionId: true,
  lineage: true,
  createdAt: true,
} as const;
export type TModelVersionRow = Prisma.ModelVersionGetPayload<{ select: typeof modelVersionSelect }>;

export function findModelVersionById(db: DbOrTx, id: string): Promise<TModelVersionRow | null> {
  return db.modelVersion.findUnique({ where: { id }, select: modelVersionSelect });
}

export function findModelVersionOfRun(db: DbOrTx, runId: string, modelName: string): Promise<TModelVersionRow | null> {
  return db.modelVersion.findUnique({ where: { runId_modelName: { runId, modelName } }, select: modelVersionSelect });
}

/** Serialises version numbering of one model for the rest of the transaction. */
export async function lockModelName(tx: DbOrTx, projectId: string, modelName: string): Promise<void> {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext('model-version'), hashtext(${`${projectId}/${modelName}`}))`;
}

export function findLatestModelVersion(db: DbOrTx, projectId: string, modelName: string): Promise<TModelVersionRow | null> {
  return db.modelVersion.findFirst({ where: { projectId, modelName }, orderBy: { version: "desc" }, select: modelVersionSelect });
}

export interface TModelVersionInsert {
  projectId: string;
  modelName: string;
  version: number;
  runId: string;
  adapterArtifactId: string | null;
  baseModel: string;
  gitCommit: string | null;
  datasetVersionId: string | null;
  parentVersionId: string | null;
  lineage: Prisma.InputJsonValue;
}

export function insertModelVersion(tx: DbOrTx, data: TModelVersionInsert): Promise<TModelVersionRow> {
  return tx.modelVersion.create({ data, select: modelVersionSelect });
}

/** Version → run → commit, plus children and deployments: the forward half of lineage. */
export function findModelVersionLineage(db: DbOrTx, id: string) {
  return db.modelVersion.findUnique({
    where: { id },
    select: {
      ...modelVersionSelect,
      run: { select: { id: true, number: true, pipelineId: true, gitCommit: true, gitRef: true, status: true, params: true } },
      datasetVersion: { select: { id: true, version: true, sha256: true, uri: true, dataset: { select: { name: true } } } },
      adapterArtifact: { select: { id: true, uri: true, sha256: true, sizeBytes: true } },
      parentVersion: { select: { id: true, modelName: true, version: true } },
      childVersions: { select: { id: true, modelName: true, version: true } },
      variants: { select: { id: true, role: true, weightBps: true, deployment: { select: { id: true, state: true, endpointName: true, environmentId: true } } } },
    },
  });
}
