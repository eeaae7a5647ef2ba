// Datasets, dataset versions and pipeline definitions: the catalog a run is triggered from.
import type { DbOrTx } from "../client.ts";
import type { DatasetFormat } from "../generated/prisma/enums.ts";
import type { Prisma } from "../generated/prisma/client.ts";

const datasetSelect = { id: true, projectId: true, name: true, description: true, createdAt: true } as const;
const datasetVersionSelect = {
  id: true,
  datasetId: true,
  version: true,
  uri: true,
  sha256: true,
  rowCount: true,
  sizeBytes: true,
  format: true,
  splits: true,
  createdAt: true,
} as const;
const pipelineSelect = {
  id: true,
  projectId: true,
  name: true,
  description: true,
  spec: true,
  specVersion: true,
  specText: true,
  gitRepo: true,
  gitBranches: true,
  archivedAt: true,
  createdById: true,
  createdAt: true,
  updatedAt: true,
} as const;

export type TDatasetRow = { id: string; projectId: string; name: string; description: string | null; createdAt: Date };
export type TDatasetVersionRow = {
  id: string;
  datasetId: string;
  version: string;
  uri: string;
  sha256: string;
  rowCount: number;
  sizeBytes: bigint | null;
  format: DatasetFormat;
  splits: unknown;
  createdAt: Date;
};
export type TPipelineRow = {
  id: string;
  projectId: string;
  name: string;
  description: string | null;
  spec: unknown;
  specVersion: number;
  /** The spec as the user wrote it (YAML or JSON), when it was saved as text. */
  specText: string | null;
  gitRepo: string | null;
  gitBranches: string[];
  archivedAt: Date | null;
  createdById: string | null;
  createdAt: Date;
  updatedAt: Date;
};

export function listDatasetRecords(db: DbOrTx, projectId: string): Promise<(TDatasetRow & { versionCount: number })[]> {
  return db.dataset
    .findMany({
      where: { projectId },
      select: { ...datasetSelect, _count: { select: { versions: true } } },
      orderBy: { name: "asc" },
    })
    .then((rows) => rows.map(({ _count, ...d }) => ({ ...d, versionCount: _count.versions })));
}

export function findDatasetById(db: DbOrTx, id: string): Promise<TDatasetRow | null> {
  return db.dataset.findUnique({ where: { id }, select: datasetSelect });
}

export function insertDataset(
  db: DbOrTx,
  data: { projectId: string; name: string; description?: string | null },
): Promise<TDatasetRow> {
  return db.dataset.create({ data, select: datasetSelect });
}

export function listDatasetVersionRecords(db: DbOrTx, datasetId: string): Promise<TDatasetVersionRow[]> {
  return db.datasetVersion.findMany({ where: { datasetId }, select: datasetVersionSelect, orderBy: { createdAt: "desc" } });
}

export function insertDatasetVersion(
  db: DbOrTx,
  data: {
    datasetId: string;
    version: string;
    uri: string;
    sha256: string;
    rowCount: number;
    sizeBytes?: bigint | null;
    format: DatasetFormat;
    splits: Prisma.InputJsonValue;
  },
): Promise<TDatasetVersionRow> {
  return db.datasetVersion.create({ data, select: datasetVersionSelect });
}

export function listPipelineRecords(
  db: DbOrTx,
  projectId: string,
  options: { includeArchived: boolean },
): Promise<TPipelineRow[]> {
  return db.pipeline.findMany({
    where: { projectId, ...(options.includeArchived ? {} : { archivedAt: null }) },
    select: pipelineSelect,
    orderBy: { name: "asc" },
  });
}

export function findPipelineRecord(db: DbOrTx, id: string): Promise<TPipelineRow | null> {
  return db.pipeline.findUnique({ where: { id }, select: pipelineSelect });
}

export function findPipelineByName(db: DbOrTx, projectId: string, name: string): Promise<TPipelineRow | null> {
  return db.pipeline.findUnique({ where: { projectId_name: { projectId, name } }, select: pipelineSelect });
}

/** Active pipelines of a project that a push to `branch` of `repo` should trigger. */
export function findPipelinesForPush(db: DbOrTx, projectId: string, branch: string): Promise<TPipelineRow[]> {
  return db.pipeline.findMany({
    where: { projectId, archivedAt: null, gitBranches: { has: branch } },
    select: pipelineSelect,
  });
}

export function insertPipeline(
  db: DbOrTx,
  data: {
    projectId: string;
    name: string;
    description?: string | null;
    spec: Prisma.InputJsonValue;
    specText?: string | null;
    gitRepo?: string | null;
    gitBranches?: string[];
    createdById?: string | null;
    specEditedById?: string | null;
    specEditedAt?: Date | null;
  },
): Promise<TPipelineRow> {
  return db.pipeline.create({ data, select: pipelineSelect });
}

/** A spec change bumps specVersion so every run records exactly which definition it ran. */
export function updatePipelineRecord(
  db: DbOrTx,
  id: string,
  data: {
    name?: string;
    description?: string | null;
    spec?: Prisma.InputJsonValue;
    specText?: string | null;
    gitRepo?: string | null;
    gitBranches?: string[];
    archivedAt?: Date | null;
    specEditedById?: string | null;
    specEditedAt?: Date | null;
  },
): Promise<TPipelineRow> {
  return db.pipeline.update({
    where: { id },
    data: { ...data, ...(data.spec !== undefined ? { specVersion: { increment: 1 } } : {}) },
    select: pipelineSelect,
  });
}

/** Records the spec a pipeline has at `version` (the same version saved again keeps the latest text). */
export function upsertPipelineSpecVersion(
  db: DbOrTx,
  data: { pipelineId: string; version: number; spec: Prisma.InputJsonValue; specText: string | null; createdById: string | null },
): Promise<unknown> {
  return db.pipelineSpecVersion.upsert({
    where: { pipelineId_version: { pipelineId: data.pipelineId, version: data.version } },
    create: data,
    update: { spec: data.spec, specText: data.specText, createdById: data.createdById },
  });
}

export function listPipelineSpecVersions(db: DbOrTx, pipelineId: string, limit = 50) {
  return db.pipelineSpecVersion.findMany({
    where: { pipelineId },
    select: { version: true, spec: true, specText: true, createdById: true, createdAt: true },
    orderBy: { version: "desc" },
    take: limit,
  });
}
