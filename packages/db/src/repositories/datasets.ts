// Dataset lookups the pipeline engine needs (the catalog CRUD lives in catalog.ts).
import type { DbOrTx } from "../client.ts";

export function findDatasetVersionByName(db: DbOrTx, projectId: string, datasetName: string, version: string) {
  return db.datasetVersion.findFirst({
    where: { version, dataset: { projectId, name: datasetName } },
    select: { id: true, datasetId: true, version: true, uri: true, sha256: true, rowCount: true, format: true, splits: true },
  });
}

export function findDatasetVersionForRun(db: DbOrTx, id: string) {
  return db.datasetVersion.findUnique({
    where: { id },
    select: { id: true, version: true, uri: true, sha256: true, format: true, splits: true, dataset: { select: { name: true } } },
  });
}
