import {
  type Db,
  type DatasetFormat,
  findDatasetById,
  insertDataset,
  insertDatasetVersion,
  listDatasetRecords,
  listDatasetVersionRecords,
  type TDatasetRow,
  type TDatasetVersionRow,
} from "@loraplane/db";
import { ConflictError, NotFoundError, ValidationError } from "../errors.ts";
import { recordAudit, type TActor, type TRequestMeta } from "../audit/index.ts";
import { datasetPathOf, resolveInsidePrefix } from "./storage.ts";

export function listDatasets(db: Db, projectId: string) {
  return listDatasetRecords(db, projectId);
}

export async function getDataset(db: Db, id: string): Promise<TDatasetRow> {
  const dataset = await findDatasetById(db, id);
  if (!dataset) throw new NotFoundError(`dataset ${id} not found`);
  return dataset;
}

export async function createDataset(
  db: Db,
  projectId: string,
  input: { name: string; description?: string | null },
  actor: TActor,
  meta: TRequestMeta = {},
): Promise<TDatasetRow> {
  if ((await listDatasetRecords(db, projectId)).some((d) => d.name === input.name)) {
    throw new ConflictError(`a dataset named "${input.name}" already exists`, [{ path: "name", message: "already taken" }]);
  }
  return db.$transaction(async (tx) => {
    const dataset = await insertDataset(tx, { projectId, ...input });
    await recordAudit(tx, actor, { projectId, action: "dataset.create", subjectType: "dataset", subjectId: dataset.id, after: input }, meta);
    return dataset;
  });
}

export function listDatasetVersions(db: Db, datasetId: string): Promise<TDatasetVersionRow[]> {
  return listDatasetVersionRecords(db, datasetId);
}

/**
 * Registers an immutable dataset version: its digest is what lineage records. The files live at `uri`, which must be
 * under this project's storage prefix (storage.ts: `<root>/projects/<projectId>/datasets/`, checked lexically and,
 * where the files are visible here, after realpath); the prepare stage checks the prefix again and verifies sha256.
 */
export async function createDatasetVersion(
  db: Db,
  datasetId: string,
  input: {
    version: string;
    uri: string;
    sha256: string;
    rowCount: number;
    sizeBytes?: number | null;
    format: DatasetFormat;
    splits: Record<string, { rows: number; sha256?: string }>;
  },
  actor: TActor,
  meta: TRequestMeta,
  storage: { roots: readonly string[] },
): Promise<TDatasetVersionRow> {
  const dataset = await getDataset(db, datasetId);
  const located = datasetPathOf(input.uri, dataset.projectId, storage.roots);
  if (!located.ok) throw new ValidationError(`uri ${located.reason}`, [{ path: "uri", message: located.reason }]);
  // Visible from here (local installs): refuse a symlink or mount that leads out of the prefix right away.
  const resolved = await resolveInsidePrefix(located.path, located.prefix);
  if (!resolved.ok && !resolved.missing) throw new ValidationError(`uri ${resolved.reason}`, [{ path: "uri", message: resolved.reason }]);
  if ((await listDatasetVersionRecords(db, datasetId)).some((v) => v.version === input.version)) {
    throw new ConflictError(`version "${input.version}" of ${dataset.name} already exists; versions are immutable`, [
      { path: "version", message: "already exists" },
    ]);
  }
  return db.$transaction(async (tx) => {
    const version = await insertDatasetVersion(tx, {
      datasetId,
      ...input,
      sizeBytes: input.sizeBytes == null ? null : BigInt(input.sizeBytes),
    });
    await recordAudit(
      tx,
      actor,
      {
        projectId: dataset.projectId,
        action: "dataset.version.create",
        subjectType: "dataset_version",
        subjectId: version.id,
        after: { dataset: dataset.name, version: input.version, sha256: input.sha256, uri: input.uri },
      },
      meta,
    );
    return version;
  });
}
