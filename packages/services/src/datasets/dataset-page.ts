// What the dataset page shows: versions with the stats computed at upload, the runs and model versions that used each
// version, and a server-side paged preview of a split's rows.
import { createReadStream } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { type Db, findDatasetVersionDetail, listDatasetVersionDetails, listDatasetVersionUsage } from "@loraplane/db";
import { ConflictError, NotFoundError, ValidationError } from "../errors.ts";
import { getDataset } from "./datasets.ts";
import { datasetPathOf, resolveInsidePrefix } from "./storage.ts";

export async function getDatasetPage(db: Db, datasetId: string) {
  const dataset = await getDataset(db, datasetId);
  const versions = await listDatasetVersionDetails(db, datasetId);
  const usage = await listDatasetVersionUsage(db, versions.map((v) => v.id));
  return {
    dataset,
    versions: versions.map((v) => ({
      ...v,
      runs: usage.runs.filter((r) => r.datasetVersionId === v.id).map((r) => ({ id: r.id, number: r.number, status: r.status, pipelineId: r.pipeline.id, pipelineName: r.pipeline.name, createdAt: r.createdAt })),
      modelVersions: usage.modelVersions
        .filter((m) => m.datasetVersionId === v.id)
        .map((m) => ({ id: m.id, modelName: m.modelName, version: m.version, status: m.status, runId: m.runId, createdAt: m.createdAt })),
    })),
  };
}

/**
 * Rows `offset … offset+limit-1` of one split (blank lines skipped, as training skips them), each with its line
 * number. The file is read from the start up to the page: cheap for the previews' first pages, linear for deep ones.
 */
export async function previewDatasetRows(
  db: Db,
  datasetId: string,
  versionId: string,
  query: { split: string; offset: number; limit: number },
  storage: { roots: readonly string[] },
) {
  const dataset = await getDataset(db, datasetId);
  const version = await findDatasetVersionDetail(db, versionId);
  if (!version || version.datasetId !== datasetId) throw new NotFoundError(`dataset version ${versionId} not found`);
  const splits = (version.splits ?? {}) as Record<string, { rows?: number }>;
  if (!(query.split in splits)) {
    const known = Object.keys(splits).join(", ") || "none";
    throw new ValidationError(`version ${version.version} has no split "${query.split}" (it has: ${known})`, [{ path: "split", message: `one of: ${known}` }]);
  }
  const located = datasetPathOf(version.uri, dataset.projectId, storage.roots);
  if (!located.ok) throw new ConflictError(`the version's files are not under this project's storage prefix: ${located.reason}`);
  const resolved = await resolveInsidePrefix(located.path, located.prefix);
  if (!resolved.ok) throw new ConflictError(`the version's files cannot be read here: ${resolved.reason}`);
  const file = path.join(resolved.realPath, `${query.split}.jsonl`);
  const rows: { line: number; row: unknown }[] = [];
  let seen = 0;
  let line = 0;
  let hasMore = false;
  const input = createReadStream(file, { encoding: "utf8" });
  const lines = createInterface({ input, crlfDelay: Infinity });
  try {
    for await (const text of lines) {
      line += 1;
      if (text.trim() === "") continue;
      if (seen >= query.offset + query.limit) {
        hasMore = true;
        break;
      }
      if (seen >= query.offset) {
        let row: unknown;
        try {
          row = JSON.parse(text);
        } catch {
          row = { _unparsed: text.slice(0, 2000) };
        }
        rows.push({ line, row });
      }
      seen += 1;
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new ConflictError(`${query.split}.jsonl of version ${version.version} is missing on disk`);
    throw error;
  } finally {
    lines.close();
    input.destroy();
  }
  return { split: query.split, offset: query.offset, limit: query.limit, total: splits[query.split]?.rows ?? null, hasMore, rows };
}
