// Dataset upload, the dataset page's data and the paged row preview (create/list/register live in projects.ts).
import { datasetRoots, getDatasetPage, previewDatasetRows, uploadDatasetVersion } from "@loraplane/services";
import { defineRoute } from "../api/route.ts";
import { ZDataset, ZDatasetVersion, ZDateTime, ZId } from "../api/schemas.ts";
import { z } from "../api/zod.ts";

const byDataset = { owner: "dataset", param: "datasetId" } as const;

const ZHistogram = z.object({ edges: z.array(z.number()), counts: z.array(z.number()), min: z.number(), max: z.number(), mean: z.number(), p50: z.number(), p95: z.number() });
const ZDatasetStats = z.object({
  tokenizer: z.string(),
  splits: z.record(z.string(), z.object({ rows: z.number(), bytes: z.number(), sha256: z.string(), format: z.enum(["alpaca", "chat"]), tokens: ZHistogram })),
});
const ZVersionDetail = ZDatasetVersion.extend({ stats: ZDatasetStats.nullable(), lineage: z.unknown().optional(), sourceDeploymentId: z.string().nullable().optional() });

export const getDatasetRoute = defineRoute({
  operationId: "getDataset",
  method: "get",
  path: "/api/v1/datasets/{datasetId}",
  summary: "A dataset with its versions: rows per split, format, token-length histogram (computed at upload), and the runs and model versions that used each version",
  tags: ["datasets"],
  auth: { kind: "user", scope: "runs:read", role: "viewer", project: byDataset },
  params: z.object({ datasetId: ZId }),
  response: z.object({
    dataset: ZDataset,
    versions: z.array(
      ZVersionDetail.extend({
        runs: z.array(z.object({ id: z.string(), number: z.number(), status: z.string(), pipelineId: z.string(), pipelineName: z.string(), createdAt: ZDateTime })),
        modelVersions: z.array(z.object({ id: z.string(), modelName: z.string(), version: z.number(), status: z.string(), runId: z.string(), createdAt: ZDateTime })),
      }),
    ),
  }),
  handler: ({ db, params }) => getDatasetPage(db, params.datasetId),
});

export const uploadDatasetVersionRoute = defineRoute({
  operationId: "uploadDatasetVersion",
  method: "post",
  path: "/api/v1/datasets/{datasetId}/versions/upload",
  summary:
    "Upload a new immutable version: multipart/form-data with one file part per <split>.jsonl (train.jsonl, validation.jsonl, …). Every line is validated (Alpaca or chat, one format per version); a bad line is a 400 naming the file and line and nothing is stored. The next version is v<N+1>; content identical to an existing version of this dataset stores nothing and answers that version with deduplicated: true",
  tags: ["datasets"],
  auth: { kind: "user", scope: "runs:write", role: "engineer", project: byDataset },
  params: z.object({ datasetId: ZId }),
  streamedBody: {
    mediaType: "multipart/form-data",
    description: "one file part per split; the file name (train.jsonl) names the split; form fields without a file are ignored",
    schema: z.object({ files: z.array(z.string().meta({ format: "binary" })) }),
  },
  response: z.object({ version: ZVersionDetail, deduplicated: z.boolean() }),
  status: 201,
  errors: { "413": "The body is over DATASET_UPLOAD_MAX_BYTES; nothing was stored" },
  handler: ({ db, env, req, params, actor, meta }) =>
    uploadDatasetVersion(
      db,
      params.datasetId,
      {
        body: req.body as AsyncIterable<Uint8Array> | null,
        contentType: req.headers.get("content-type"),
        contentLength: req.headers.has("content-length") ? Number(req.headers.get("content-length")) : null,
      },
      actor,
      meta,
      { dataDir: env.LORAPLANE_DATA_DIR, maxBytes: env.DATASET_UPLOAD_MAX_BYTES },
    ),
});

export const previewDatasetRowsRoute = defineRoute({
  operationId: "previewDatasetRows",
  method: "get",
  path: "/api/v1/datasets/{datasetId}/versions/{datasetVersionId}/rows",
  summary: "A page of one split's rows (blank lines skipped), each with its line number in the file",
  tags: ["datasets"],
  auth: { kind: "user", scope: "runs:read", role: "viewer", project: byDataset },
  params: z.object({ datasetId: ZId, datasetVersionId: ZId }),
  query: z.object({
    split: z.string().min(1).max(64).default("train"),
    offset: z.coerce.number().int().min(0).max(10_000_000).default(0),
    limit: z.coerce.number().int().min(1).max(100).default(20),
  }),
  response: z.object({
    split: z.string(),
    offset: z.number(),
    limit: z.number(),
    total: z.number().nullable(),
    hasMore: z.boolean(),
    rows: z.array(z.object({ line: z.number(), row: z.unknown() })),
  }),
  handler: ({ db, env, params, query }) => previewDatasetRows(db, params.datasetId, params.datasetVersionId, query, { roots: datasetRoots(env.LORAPLANE_DATA_DIR) }),
});
