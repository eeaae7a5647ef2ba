import { createReadStream } from "node:fs";
import { open, stat } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import {
  findArtifactById,
  findRunById,
  findSeriesStats,
  listMetricSeries,
  findRunDetail,
  listEvalResults,
  listEvalSamplesPage,
  listModelVersionsOfProject,
  listRunArtifacts,
  listRunsPage,
  setEvalSampleReview,
} from "@loraplane/db";
import { cancelRun, getModelVersionLineage, NotFoundError, queryMetricSeries, recordAudit, resolveRunFile, retryRun, triggerRun } from "@loraplane/services";
import { z } from "../api/zod.ts";
import { serverContext } from "../context.ts";
import { forbidden, HttpError, notFound } from "../api/errors.ts";
import { defineRoute } from "../api/route.ts";
import { MAX_INT32, ZArtifact, ZId, ZLimit, ZReasonBody, ZRunDetail, ZRunParams, ZRunStatus, ZRunSummary, page } from "../api/schemas.ts";

const runParams = z.object({ runId: ZId });
const byRun = { owner: "run", param: "runId" } as const;
const ZRunRef = z.object({ id: z.string(), number: z.number(), status: z.string() });

function flattenRun<T extends { pipeline: { name: string } }>(run: T) {
  const { pipeline, ...rest } = run;
  return { ...rest, pipelineName: pipeline.name };
}

export const triggerRunRoute = defineRoute({
  operationId: "triggerRun",
  method: "post",
  path: "/api/v1/pipelines/{pipelineId}/runs",
  summary:
    "Trigger a run. The same Idempotency-Key with the same body returns the same run (200) instead of creating another (201); with a different body it is a 422",
  errors: { "422": "The Idempotency-Key was already used with a different body (commit, ref or params); the first request's run stands" },
  tags: ["runs"],
  auth: { kind: "user", scope: "runs:write", role: "engineer", project: { owner: "pipeline", param: "pipelineId" } },
  params: z.object({ pipelineId: ZId }),
  headers: z.object({
    "idempotency-key": z.string().max(200).optional().describe("Same key and same body → the first run (200); same key, different body → 422"),
  }),
  body: z.object({
    gitCommit: z.string().regex(/^[0-9a-fA-F]{7,64}$/, "must be a hex commit SHA").optional(),
    gitRef: z.string().min(1).max(250).optional(),
    params: ZRunParams.optional(),
  }),
  response: z.object({ run: ZRunRef, created: z.boolean() }),
  status: 201,
  handler: async ({ req, db, params, body, principal, projectId, log }) => {
    const key = req.headers.get("idempotency-key") ?? undefined;
    if (key !== undefined && (key.length === 0 || key.length > 200)) {
      throw new HttpError(400, "validation_failed", "Idempotency-Key must be 1–200 characters", [{ path: "headers.idempotency-key", message: "must be 1–200 characters" }]);
    }
    const result = await triggerRun(
      { db, queue: serverContext().queue() },
      {
        projectId: projectId!,
        pipelineId: params.pipelineId,
        trigger: principal.via === "token" ? "api" : "ui",
        requestedById: principal.userId,
        requestedByToken: principal.tokenId ?? undefined,
        idempotencyKey: key,
        ...body,
      },
    );
    log.info({ runId: result.run.id, created: result.created }, "run triggered");
    return Response.json(result, { status: result.created ? 201 : 200 });
  },
});

export const listRunsRoute = defineRoute({
  operationId: "listRuns",
  method: "get",
  path: "/api/v1/runs",
  summary: "Runs, newest first, cursor-paginated",
  tags: ["runs"],
  auth: { kind: "user", scope: "runs:read", role: "viewer", project: { query: "projectId" } },
  query: z.object({
    projectId: ZId.optional(),
    pipelineId: ZId.optional(),
    status: ZRunStatus.optional(),
    cursor: z.string().max(64).regex(/^[A-Za-z0-9_-]+$/, "must be the nextCursor of a previous page").optional(),
    limit: ZLimit,
  }),
  response: page(ZRunSummary),
  handler: async ({ db, query, projectId, visibleProjectIds }) => {
    const projectIds = projectId ? [projectId] : await visibleProjectIds("viewer");
    if (query.cursor) {
      // A cursor that names no visible run would silently restart at the first page.
      const at = await findRunById(db, query.cursor);
      if (!at || !projectIds.includes(at.projectId)) {
        throw new HttpError(400, "validation_failed", "invalid query: query.cursor does not name a run of this listing", [
          { path: "query.cursor", message: "must be the nextCursor of a previous page" },
        ]);
      }
    }
    const rows = await listRunsPage(db, { projectIds, pipelineId: query.pipelineId, status: query.status, cursor: query.cursor, limit: query.limit + 1 });
    const items = rows.slice(0, query.limit).map(flattenRun);
    return { items, nextCursor: rows.length > query.limit ? items[items.length - 1]!.id : null };
  },
});

export const getRunRoute = defineRoute({
  operationId: "getRun",
  method: "get",
  path: "/api/v1/runs/{runId}",
  summary: "A run with its stages (status, attempt, progress, step, ETA, error)",
  tags: ["runs"],
  auth: { kind: "user", scope: "runs:read", role: "viewer", project: byRun },
  params: runParams,
  response: ZRunDetail,
  handler: async ({ db, params }) => {
    const run = await findRunDetail(db, params.runId);
    if (!run) throw notFound(`run ${params.runId}`);
    return flattenRun(run);
  },
});

export const cancelRunRoute = defineRoute({
  operationId: "cancelRun",
  method: "post",
  path: "/api/v1/runs/{runId}/cancel",
  summary: "Cancel a queued or running run",
  tags: ["runs"],
  auth: { kind: "user", scope: "runs:write", role: "engineer", project: byRun },
  params: runParams,
  body: ZReasonBody,
  response: z.unknown(),
  handler: async ({ db, params, body, actor }) => {
    return cancelRun({ db, queue: serverContext().queue() }, { runId: params.runId, actor, reason: body.reason });
  },
});

export const retryRunRoute = defineRoute({
  operationId: "retryRun",
  method: "post",
  path: "/api/v1/runs/{runId}/retry",
  summary: "Retry a failed, blocked or cancelled run from its failed stage",
  tags: ["runs"],
  auth: { kind: "user", scope: "runs:write", role: "engineer", project: byRun },
  params: runParams,
  body: z.object({}),
  response: z.unknown(),
  handler: async ({ db, params, actor }) => {
    return retryRun({ db, queue: serverContext().queue() }, { runId: params.runId, actor });
  },
});

/** A log or artifact file a workload reported: served only from the run's own directory, after realpath (resolveRunFile). */
async function runFilePath(dataDir: string, runId: string, uri: string, what: string): Promise<string | null> {
  const resolved = await resolveRunFile(dataDir, runId, uri);
  if (resolved.ok) return resolved.path;
  if (resolved.missing) return null;
  throw forbidden(`${what} is refused: ${resolved.reason}`);
}

async function tailFile(file: string, maxLines: number): Promise<string[]> {
  const info = await stat(file).catch(() => null);
  if (!info?.isFile()) return [];
  const bytes = Math.min(info.size, maxLines * 400 + 4096);
  const handle = await open(file, "r");
  try {
    const buffer = Buffer.alloc(bytes);
    await handle.read(buffer, 0, bytes, info.size - bytes);
    const lines = buffer.toString("utf8").split("\n");
    if (bytes < info.size) lines.shift();
    if (lines[lines.length - 1] === "") lines.pop();
    return lines.slice(-maxLines);
  } finally {
    await handle.close();
  }
}

export const runLogsRoute = defineRoute({
  operationId: "getRunLogs",
  method: "get",
  path: "/api/v1/runs/{runId}/logs",
  summary: "The last lines of a stage's log",
  tags: ["runs"],
  auth: { kind: "user", scope: "runs:read", role: "viewer", project: byRun },
  params: runParams,
  query: z.object({ stage: z.enum(["prepare", "train", "eval", "gate", "register", "approve", "deploy", "rollout"]).optional(), tail: z.coerce.number().int().min(1).max(5000).default(200) }),
  response: z.object({ stage: z.string().nullable(), attempt: z.number().nullable(), lines: z.array(z.string()) }),
  handler: async ({ db, env, params, query }) => {
    const run = await findRunDetail(db, params.runId);
    if (!run) throw notFound(`run ${params.runId}`);
    const candidates = run.stages.filter((s) => s.logsUri && (!query.stage || s.stage === query.stage));
    const stage = candidates[candidates.length - 1];
    if (!stage?.logsUri) return { stage: query.stage ?? null, attempt: null, lines: [] };
    // Kubernetes pod logs are read from the cluster, not from here; a failed stage's error carries their tail.
    if (!stage.logsUri.startsWith("file://")) return { stage: stage.stage, attempt: stage.attempt, lines: [`logs are kept by the workload: ${stage.logsUri}`] };
    const file = await runFilePath(env.LORAPLANE_DATA_DIR, params.runId, stage.logsUri, "the log file");
    return { stage: stage.stage, attempt: stage.attempt, lines: file ? await tailFile(file, query.tail) : [] };
  },
});

export const runMetricsRoute = defineRoute({
  operationId: "getRunMetrics",
  method: "get",
  path: "/api/v1/runs/{runId}/metrics",
  summary: "Metric series, downsampled on the server (first/min/max/last per step bucket, from 256-step roll-ups) to at most maxPoints per series",
  tags: ["runs"],
  auth: { kind: "user", scope: "runs:read", role: "viewer", project: byRun },
  params: runParams,
  query: z.object({
    keys: z
      .string()
      .min(1, "list at least one key")
      .max(5000)
      .describe("comma-separated metric keys (GET /runs/{runId}/metric-keys lists them)")
      .transform((s) => s.split(",").map((k) => k.trim()).filter(Boolean)),
    maxPoints: z.coerce.number().int().min(4).max(10_000).default(1000),
  }),
  response: z.object({
    missingKeys: z.array(z.string()).describe("requested keys this run has no series for (yet)"),
    availableKeys: z
      .array(z.string())
      .optional()
      .describe("when a key is missing: every key the run has reported so far (a typo such as `loss` for `train/loss` shows here)"),
    series: z.array(
      z.object({
        key: z.string(),
        points: z.array(z.object({ step: z.number(), value: z.number(), wallTime: z.string() })),
        downsampled: z.boolean(),
        totalPoints: z.number(),
      }),
    ),
  }),
  handler: async ({ db, params, query }) => {
    const series = await queryMetricSeries(db, { runId: params.runId, keys: query.keys, maxPoints: query.maxPoints });
    const found = new Set(series.map((s) => s.key));
    const missingKeys = [...new Set(query.keys)].filter((k) => !found.has(k));
    // A missing key is not an error: a dashboard asks for loss before the first step is reported. The run's own keys
    // come back with the answer so a wrong name is visible at once.
    const availableKeys = missingKeys.length ? (await listMetricSeries(db, params.runId)).map((s) => s.key) : undefined;
    return {
      missingKeys,
      ...(availableKeys ? { availableKeys } : {}),
      series: series.map((s) => ({ key: s.key, points: s.points, downsampled: s.downsampled, totalPoints: s.total })),
    };
  },
});

export const runMetricKeysRoute = defineRoute({
  operationId: "listRunMetricKeys",
  method: "get",
  path: "/api/v1/runs/{runId}/metric-keys",
  summary: "The metric keys a run has reported (train/loss, eval/exact_match …) with their point counts and step range",
  tags: ["runs"],
  auth: { kind: "user", scope: "runs:read", role: "viewer", project: byRun },
  params: runParams,
  response: z.object({ items: z.array(z.object({ key: z.string(), points: z.number(), firstStep: z.number().nullable(), lastStep: z.number().nullable() })) }),
  handler: async ({ db, params }) => {
    const run = await findRunById(db, params.runId);
    if (!run) throw notFound(`run ${params.runId}`);
    const keys = (await listMetricSeries(db, params.runId)).map((s) => s.key);
    const stats = keys.length === 0 ? [] : await findSeriesStats(db, params.runId, keys);
    return { items: stats.map((s) => ({ key: s.key, points: s.count, firstStep: s.firstStep, lastStep: s.lastStep })) };
  },
});

export const runEvalRoute = defineRoute({
  operationId: "getRunEval",
  method: "get",
  path: "/api/v1/runs/{runId}/eval",
  summary: "Evaluation results against their thresholds and the gate decision",
  tags: ["runs"],
  auth: { kind: "user", scope: "runs:read", role: "viewer", project: byRun },
  params: runParams,
  response: z.object({
    results: z.array(
      z.object({
        metric: z.string(),
        value: z.number(),
        threshold: z.number().nullable(),
        comparator: z.string().nullable(),
        blocking: z.boolean(),
        passed: z.boolean().nullable(),
        reason: z.string().nullable(),
      }),
    ),
    gate: z.object({ passed: z.boolean().nullable(), reasons: z.array(z.string()) }),
  }),
  handler: async ({ db, params }) => {
    const results = await listEvalResults(db, params.runId);
    const gated = results.filter((r) => r.passed !== null);
    const failing = gated.filter((r) => r.blocking && r.passed === false);
    return {
      results,
      gate: {
        passed: gated.length === 0 ? null : failing.length === 0,
        reasons: failing.map((r) => r.reason ?? `${r.metric} ${r.value} does not satisfy ${r.comparator ?? ""} ${r.threshold ?? ""}`.trim()),
      },
    };
  },
});

const ZSample = z.object({
  index: z.number(),
  prompt: z.string(),
  reference: z.string(),
  prediction: z.string(),
  scores: z.unknown(),
  review: z.enum(["good", "bad"]).nullable(),
  reviewedById: z.string().nullable(),
  reviewedAt: z.string().nullable(),
});

export const runSamplesRoute = defineRoute({
  operationId: "listRunSamples",
  method: "get",
  path: "/api/v1/runs/{runId}/samples",
  summary: "Per-sample evaluation records, by index, cursor-paginated",
  tags: ["runs"],
  auth: { kind: "user", scope: "runs:read", role: "viewer", project: byRun },
  params: runParams,
  query: z.object({
    cursor: z
      .string()
      .regex(/^\d{1,10}$/, "must be a sample index")
      .refine((s) => Number(s) <= MAX_INT32, "must be a sample index")
      .optional(),
    limit: ZLimit,
    review: z.enum(["good", "bad", "none"]).optional(),
  }),
  response: page(ZSample),
  handler: async ({ db, params, query }) => {
    const rows = await listEvalSamplesPage(db, params.runId, { afterIndex: query.cursor ? Number(query.cursor) : undefined, limit: query.limit + 1, review: query.review });
    const items = rows.slice(0, query.limit);
    return { items, nextCursor: rows.length > query.limit ? String(items[items.length - 1]!.index) : null };
  },
});

export const reviewSampleRoute = defineRoute({
  operationId: "reviewRunSample",
  method: "put",
  path: "/api/v1/runs/{runId}/samples/{index}/review",
  summary: "Mark a sample good or bad (feeds the human_review_pass_rate metric)",
  tags: ["runs"],
  auth: { kind: "user", scope: "runs:write", role: "engineer", project: byRun },
  params: z.object({ runId: ZId, index: z.coerce.number().int().min(0).max(MAX_INT32) }),
  body: z.object({ review: z.enum(["good", "bad"]) }),
  response: z.object({ index: z.number(), review: z.enum(["good", "bad"]) }),
  handler: async ({ db, params, body, actor, meta, projectId }) => {
    await db.$transaction(async (tx) => {
      if (!(await setEvalSampleReview(tx, params.runId, params.index, body.review, actor.userId!))) {
        throw new NotFoundError(`run ${params.runId} has no sample ${params.index}`);
      }
      await recordAudit(tx, actor, { projectId, action: "sample.review", subjectType: "run", subjectId: params.runId, after: { index: params.index, review: body.review } }, meta);
    });
    return { index: params.index, review: body.review };
  },
});

export const runArtifactsRoute = defineRoute({
  operationId: "listRunArtifacts",
  method: "get",
  path: "/api/v1/runs/{runId}/artifacts",
  summary: "Artifacts of a run (adapter, checkpoints, reports) with checksums",
  tags: ["runs"],
  auth: { kind: "user", scope: "runs:read", role: "viewer", project: byRun },
  params: runParams,
  // `downloadable`: a file on the data volume that GET /artifacts/{id}/download serves (not a folder or a remote URI).
  response: z.object({ items: z.array(ZArtifact.extend({ downloadable: z.boolean() })) }),
  handler: async ({ db, env, params }) => {
    const items = await listRunArtifacts(db, params.runId);
    const isFile = async (uri: string) => {
      const resolved = await resolveRunFile(env.LORAPLANE_DATA_DIR, params.runId, uri);
      return resolved.ok && (await stat(resolved.path).catch(() => null))?.isFile() === true;
    };
    return { items: await Promise.all(items.map(async (a) => ({ ...a, downloadable: await isFile(a.uri) }))) };
  },
});

export const downloadArtifactRoute = defineRoute({
  operationId: "downloadArtifact",
  method: "get",
  path: "/api/v1/artifacts/{artifactId}/download",
  summary: "Download a file artifact stored on the data volume",
  tags: ["runs"],
  auth: { kind: "user", scope: "runs:read", role: "viewer", project: { owner: "artifact", param: "artifactId" } },
  params: z.object({ artifactId: ZId }),
  response: z.unknown(),
  responseType: "application/octet-stream",
  handler: async ({ db, env, params }) => {
    const artifact = await findArtifactById(db, params.artifactId);
    if (!artifact) throw notFound(`artifact ${params.artifactId}`);
    if (!artifact.uri.startsWith("file://")) {
      throw new HttpError(409, "not_downloadable", `artifact is stored at ${artifact.uri}; fetch it from there`);
    }
    const file = await runFilePath(env.LORAPLANE_DATA_DIR, artifact.runId, artifact.uri, "the artifact path");
    const info = file ? await stat(file).catch(() => null) : null;
    if (!info?.isFile()) throw new HttpError(409, "not_downloadable", "artifact is a directory or missing on the data volume");
    // A read stream that closes its descriptor at the end. (FileHandle.readableWebStream() left the handle to the
    // garbage collector, which could close it before Next sent the body: eval_report.json arrived as 0 bytes.)
    return new Response(Readable.toWeb(createReadStream(file!)) as ReadableStream, {
      headers: {
        "content-type": "application/octet-stream",
        "content-length": String(info.size),
        "content-disposition": `attachment; filename="${path.basename(file!).replace(/"/g, "")}"`,
        ...(artifact.sha256 ? { "x-checksum-sha256": artifact.sha256 } : {}),
      },
    });
  },
});

export const runLineageRoute = defineRoute({
  operationId: "getRunLineage",
  method: "get",
  path: "/api/v1/runs/{runId}/lineage",
  summary: "Lineage of a run: commit, dataset version, resolved spec and the model versions it produced",
  tags: ["runs"],
  auth: { kind: "user", scope: "runs:read", role: "viewer", project: byRun },
  params: runParams,
  response: z.object({ run: z.unknown(), modelVersions: z.array(z.unknown()) }),
  handler: async ({ db, params }) => {
    const run = await findRunDetail(db, params.runId);
    if (!run) throw notFound(`run ${params.runId}`);
    const versions = (await listModelVersionsOfProject(db, run.projectId)).filter((v) => v.runId === run.id);
    return {
      run: { id: run.id, number: run.number, gitCommit: run.gitCommit, gitRef: run.gitRef, datasetVersionId: run.datasetVersionId, resolvedSpec: run.resolvedSpec },
      modelVersions: await Promise.all(versions.map((v) => getModelVersionLineage(db, v.id))),
    };
  },
});
