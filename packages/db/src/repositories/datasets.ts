// Dataset lookups the pipeline engine needs (the catalog CRUD lives in catalog.ts).
import type { DbOrTx } from "../client.ts";

export function findDatasetVersionByName(db: DbOrTx, projectId: string, datasetName: string, version: string) {
  return db.datasetVersion.findFirst({
    where: { version, dataset: { projectId, name: datasetName } },
    select: { id: true, datasetId: true, version: true, uri: true, sha256: true, rowCount: true, format: true, splits: true },
  });
}

/** A version of one of the project's datasets, with the dataset's name (null when it is another project's). */
export async function findDatasetVersionInProject(
  db: DbOrTx,
  projectId: string,
  id: string,
): Promise<{ id: string; version: string; format: "alpaca" | "chat"; datasetName: string } | null> {
  const v = await db.datasetVersion.findFirst({ where: { id, dataset: { projectId } }, select: { id: true, version: true, format: true, dataset: { select: { name: true } } } });
  return v ? { id: v.id, version: v.version, format: v.format, datasetName: v.dataset.name } : null;
}

/** A dataset version with its dataset's name and, for versions built from feedback, their lineage (run lineage). */
export function findDatasetVersionLineage(db: DbOrTx, id: string) {
  return db.datasetVersion.findUnique({
    where: { id },
    select: { id: true, version: true, sha256: true, rowCount: true, lineage: true, sourceDeploymentId: true, createdAt: true, dataset: { select: { id: true, name: true } } },
  });
}

export function findDatasetVersionForRun(db: DbOrTx, id: string) {
  return db.datasetVersion.findUnique({
    where: { id },
    select: { id: true, version: true, uri: true, sha256: true, format: true, splits: true, dataset: { select: { name: true } } },
  });
}

// ─── Uploaded versions, the dataset page and its lineage ────────────────────────────────────────────────────────────

const versionDetailSelect = {
  id: true,
  datasetId: true,
  version: true,
  uri: true,
  sha256: true,
  rowCount: true,
  sizeBytes: true,
  format: true,
  splits: true,
  stats: true,
  lineage: true,
  sourceDeploymentId: true,
  createdAt: true,
} as const;

export type TDatasetVersionDetailRow = {
  id: string;
  datasetId: string;
  version: string;
  uri: string;
  sha256: string;
  rowCount: number;
  sizeBytes: bigint | null;
  format: "alpaca" | "chat";
  splits: unknown;
  stats: unknown;
  lineage: unknown;
  sourceDeploymentId: string | null;
  createdAt: Date;
};

export function findDatasetVersionBySha(db: DbOrTx, datasetId: string, sha256: string): Promise<TDatasetVersionDetailRow | null> {
  return db.datasetVersion.findFirst({ where: { datasetId, sha256 }, select: versionDetailSelect, orderBy: { createdAt: "asc" } });
}

export function findDatasetVersionDetail(db: DbOrTx, id: string): Promise<TDatasetVersionDetailRow | null> {
  return db.datasetVersion.findUnique({ where: { id }, select: versionDetailSelect });
}

export function listDatasetVersionDetails(db: DbOrTx, datasetId: string): Promise<TDatasetVersionDetailRow[]> {
  return db.datasetVersion.findMany({ where: { datasetId }, select: versionDetailSelect, orderBy: { createdAt: "desc" } });
}

/**
 * Inserts an uploaded version named `v<N+1>`, N the highest `v<number>` name the dataset has (registered versions
 * with other names do not count). A per-dataset advisory lock serialises concurrent uploads, so two never race for
 * the same name. Call inside a transaction.
 */
export async function insertUploadedDatasetVersion(
  tx: DbOrTx,
  data: {
    datasetId: string;
    uri: string;
    sha256: string;
    rowCount: number;
    sizeBytes: bigint;
    format: "alpaca" | "chat";
    splits: object;
    stats: object;
    lineage?: object;
    sourceDeploymentId?: string;
  },
): Promise<TDatasetVersionDetailRow> {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext('dataset-version'), hashtext(${data.datasetId}))`;
  const names = await tx.datasetVersion.findMany({ where: { datasetId: data.datasetId }, select: { version: true } });
  const highest = names.reduce((m, r) => Math.max(m, Number(/^v(\d+)$/.exec(r.version)?.[1] ?? 0)), 0);
  return tx.datasetVersion.create({ data: { ...data, version: `v${highest + 1}` }, select: versionDetailSelect });
}

/** Runs and model versions that used any of these dataset versions, newest first. */
export async function listDatasetVersionUsage(db: DbOrTx, versionIds: string[]) {
  const [runs, modelVersions] = await Promise.all([
    db.pipelineRun.findMany({
      where: { datasetVersionId: { in: versionIds } },
      select: { id: true, number: true, status: true, datasetVersionId: true, createdAt: true, pipeline: { select: { id: true, name: true } } },
      orderBy: { createdAt: "desc" },
      take: 500,
    }),
    db.modelVersion.findMany({
      where: { datasetVersionId: { in: versionIds } },
      select: { id: true, modelName: true, version: true, status: true, runId: true, datasetVersionId: true, createdAt: true },
      orderBy: { createdAt: "desc" },
      take: 500,
    }),
  ]);
  return { runs, modelVersions };
}
