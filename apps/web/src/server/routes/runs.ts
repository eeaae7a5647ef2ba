import { open, stat } from "node:fs/promises";
import path from "node:path";
import {
  findArtifactById,
  findRunById,
  findSeriesStats,
  listMetricSeries,
  findDatasetVersionLineage,
  findRunDetail,
  listEvalResults,
  listEvalSamplesPage,
  listModelVersionsOfProject,
  listRunArtifacts,
  listRunsPage,
} from "@loraplane/db";
import { KNOWN_METRICS, RUN_ACTION_ROLES } from "@loraplane/core";
import { getRunReview, overrideGate, reviewRunSample, storedOverrides } from "@loraplane/services";
import {
  cancelRun,
  fileRangeStream,
  folderTarGzStream,
  getModelVersionLineage,
  parseByteRange,
  queryMetricSeries,
  resolveRunFile,
  retryRun,
  triggerRun,
} from "@loraplane/services";
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
    datasetVersionId: ZId.optional().describe("Train on this dataset version of the project instead of the spec's (e.g. one built from feedback)"),
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
  summary:
    "Retry a failed or cancelled run from the stage that stopped (a new attempt; finished stages are kept), or re-evaluate a gate-blocked run's gate with the current reviews and overrides. Anything else (a rejected approval, a run still active) is a 409 naming why",
  tags: ["runs"],
  auth: { kind: "user", scope: "runs:write", role: RUN_ACTION_ROLES.retry, project: byRun },
  params: runParams,
  body: z.object({}),
  response: z.object({ run: ZRunRef, stage: z.string(), attempt: z.number() }),
  handler: async ({ db, params, actor, meta }) => {
    return retryRun({ db, queue: serverContext().queue() }, { runId: params.runId, actor, meta });
  },
});

const ZThresholdOut = z.object({ metric: z.string(), comparator: z.enum([">=", ">", "<=", "<"]), value: z.number(), blocking: z.boolean() });

export const gateOverrideRoute = defineRoute({
  operationId: "overrideRunGate",
  method: "post",
  path: "/api/v1/runs/{runId}/gate-override",
  summary:
    "Change thresholds of a gate-blocked run's gate (this run only) and re-evaluate the gate. Needs the approver or admin role; audited as run.gate_override with the reason and the old and new thresholds",
  errors: { "409": "The run is not blocked by its evaluation gate" },
  tags: ["runs"],
  auth: { kind: "user", scope: "runs:write", role: RUN_ACTION_ROLES.override, project: byRun },
  params: runParams,
  body: z.object({
    thresholds: z
      .array(z.strictObject({ metric: z.enum(KNOWN_METRICS), comparator: z.enum([">=", ">", "<=", "<"]).default(">="), value: z.number().min(0).max(1) }))
      .min(1)
      .describe("New thresholds; each must name a metric this run's gate already checks"),
    reason: z.string().trim().min(3).max(500).describe("Why: kept in the audit log"),
  }),
  response: z.object({ run: ZRunRef, stage: z.string(), attempt: z.number(), thresholds: z.object({ before: z.array(ZThresholdOut), after: z.array(ZThresholdOut) }) }),
  handler: async ({ db, params, body, actor, meta }) => {
    return overrideGate({ db, queue: serverContext().queue() }, { runId: params.runId, actor, meta, thresholds: body.thresholds, reason: body.reason });
  },
});

const ZReviewProgress = z.object({
  required: z.boolean().describe("The spec requires review before the gate (gate.review.required)"),
  minReviewed: z.union([z.number(), z.literal("all")]).nullable(),
  needed: z.number().describe("Reviews needed before the gate evaluates (0 when review is not required)"),
  reviewed: z.number(),
  total: z.number(),
  good: z.number(),
  met: z.boolean(),
  passRate: z.number().nullable(),
  awaiting: z.boolean().describe("The run is waiting in awaiting_review"),
});

export const runReviewRoute = defineRoute({
  operationId: "getRunReview",
  method: "get",
  path: "/api/v1/runs/{runId}/review",
  summary: "Review progress of a run (quota, reviewed, pass rate) and this run's gate threshold overrides",
  tags: ["runs"],
  auth: { kind: "user", scope: "runs:read", role: "viewer", project: byRun },
  params: runParams,
  response: ZReviewProgress.extend({
    overrides: z.array(z.object({ metric: z.string(), comparator: z.string(), value: z.number(), reason: z.string().optional(), byId: z.string().nullable().optional(), at: z.string().optional() })),
  }),
  handler: async ({ db, params }) => {
    const run = await findRunById(db, params.runId);
    if (!run) throw notFound("run");
    return { ...(await getRunReview(db, params.runId)), overrides: storedOverrides(run) };
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
  summary:
    "Mark a sample good or bad (feeds human_review_pass_rate). On a run in awaiting_review, the review that meets the quota (gate.review.minReviewed) releases the gate: exactly one response says gateTriggered: true",
  tags: ["runs"],
  auth: { kind: "user", scope: "runs:write", role: RUN_ACTION_ROLES.review, project: byRun },
  params: z.object({ runId: ZId, index: z.coerce.number().int().min(0).max(MAX_INT32) }),
  body: z.object({ review: z.enum(["good", "bad"]) }),
  response: z.object({ index: z.number(), review: z.enum(["good", "bad"]), progress: ZReviewProgress, gateTriggered: z.boolean() }),
  handler: async ({ db, params, body, actor, meta }) => {
    return reviewRunSample({ db, queue: serverContext().queue() }, { runId: params.runId, index: params.index, review: body.review, actor, meta });
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
  // `downloadable`: on the data volume, so GET /artifacts/{id}/download serves it (not a remote URI or a missing path);
  // `archive`: a folder, served as a .tar.gz with a sha256 manifest.
  response: z.object({ items: z.array(ZArtifact.extend({ downloadable: z.boolean(), archive: z.boolean() })) }),
  handler: async ({ db, env, params }) => {
    const items = await listRunArtifacts(db, params.runId);
    const kindOf = async (uri: string) => {
      const resolved = await resolveRunFile(env.LORAPLANE_DATA_DIR, params.runId, uri);
      const info = resolved.ok ? await stat(resolved.path).catch(() => null) : null;
      return { downloadable: Boolean(info?.isFile() || info?.isDirectory()), archive: info?.isDirectory() === true };
    };
    return { items: await Promise.all(items.map(async (a) => ({ ...a, ...(await kindOf(a.uri)) }))) };
  },
});

/** A Content-Disposition that no file name can break: an ASCII fallback and the exact name per RFC 6266/5987. */
function attachment(name: string): string {
  const ascii = name.replace(/[^\w.-]+/g, "_").replace(/^[._]+/, "").slice(-120) || "artifact";
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name.slice(-200))}`;
}

export const downloadArtifactRoute = defineRoute({
  operationId: "downloadArtifact",
  method: "get",
  path: "/api/v1/artifacts/{artifactId}/download",
  summary:
    "Download an artifact stored on the data volume: a file as it is (with Range requests), a folder (adapter, checkpoint) as a streamed .tar.gz ending with MANIFEST.sha256 and archive-manifest.json. A file answers one Range with 206 and Content-Range, and a range past its end with 416 (Content-Range: bytes */SIZE, no body)",
  tags: ["runs"],
  auth: { kind: "user", scope: "runs:read", role: "viewer", project: { owner: "artifact", param: "artifactId" } },
  params: z.object({ artifactId: ZId }),
  headers: z.object({
    range: z.string().optional().describe("bytes=START-END, bytes=START- or bytes=-SUFFIX (files only; one range)"),
    "if-range": z.string().optional().describe("ETag or Last-Modified of the file: the range is served only when it still matches"),
  }),
  response: z.unknown(),
  responseType: "application/octet-stream",
  handler: async ({ req, db, env, params, log }) => {
    const artifact = await findArtifactById(db, params.artifactId);
    if (!artifact) throw notFound(`artifact ${params.artifactId}`);
    if (!artifact.uri.startsWith("file://")) {
      throw new HttpError(409, "not_downloadable", `artifact is stored at ${artifact.uri}; fetch it from there`);
    }
    const target = await runFilePath(env.LORAPLANE_DATA_DIR, artifact.runId, artifact.uri, "the artifact path");
    const info = target ? await stat(target).catch(() => null) : null;
    if (!target || !info || !(info.isFile() || info.isDirectory())) throw new HttpError(409, "not_downloadable", "artifact is missing on the data volume");

    if (info.isDirectory()) {
      const meta = { id: artifact.id, kind: artifact.kind, runId: artifact.runId, sha256: artifact.sha256 };
      const body = folderTarGzStream(target, meta, { onError: (error) => log.error({ artifactId: artifact.id, err: error }, "folder archive failed mid-stream") });
      return new Response(body, {
        headers: { "content-type": "application/gzip", "content-disposition": attachment(`${path.basename(target)}.tar.gz`), "cache-control": "no-store" },
      });
    }

    const size = info.size;
    const etag = `"${size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`;
    const lastModified = info.mtime.toUTCString();
    const common: Record<string, string> = {
      "accept-ranges": "bytes",
      etag,
      "last-modified": lastModified,
      "content-disposition": attachment(path.basename(target)),
      ...(artifact.sha256 ? { "x-checksum-sha256": artifact.sha256 } : {}),
    };
    const ifRange = req.headers.get("if-range");
    const range = ifRange && ifRange !== etag && ifRange !== lastModified ? ({ kind: "all" } as const) : parseByteRange(req.headers.get("range"), size);
    if (range.kind === "unsatisfiable") {
      return new Response(null, { status: 416, headers: { ...common, "content-range": `bytes */${size}` } });
    }
    const [start, end] = range.kind === "range" ? [range.start, range.end] : [0, size - 1];
    // A read stream that closes its descriptor at the end. (FileHandle.readableWebStream() left the handle to the
    // garbage collector, which could close it before Next sent the body: eval_report.json arrived as 0 bytes.)
    return new Response(size === 0 ? null : fileRangeStream(target, start, end), {
      status: range.kind === "range" ? 206 : 200,
      headers: {
        ...common,
        "content-type": "application/octet-stream",
        "content-length": String(size === 0 ? 0 : end - start + 1),
        ...(range.kind === "range" ? { "content-range": `bytes ${start}-${end}/${size}` } : {}),
      },
    });
  },
});

export const runLineageRoute = defineRoute({
  operationId: "getRunLineage",
  method: "get",
  path: "/api/v1/runs/{runId}/lineage",
  summary: "Lineage of a run: commit, dataset version (with the deployment, window and filter of a version built from feedback), resolved spec and the model versions it produced",
  tags: ["runs"],
  auth: { kind: "user", scope: "runs:read", role: "viewer", project: byRun },
  params: runParams,
  response: z.object({ run: z.unknown(), datasetVersion: z.unknown(), modelVersions: z.array(z.unknown()) }),
  handler: async ({ db, params }) => {
    const run = await findRunDetail(db, params.runId);
    if (!run) throw notFound(`run ${params.runId}`);
    const versions = (await listModelVersionsOfProject(db, run.projectId)).filter((v) => v.runId === run.id);
    return {
      run: { id: run.id, number: run.number, status: run.status, gitCommit: run.gitCommit, gitRef: run.gitRef, datasetVersionId: run.datasetVersionId, resolvedSpec: run.resolvedSpec },
      // With its lineage: a version built from feedback names the deployment, window and filter it came from.
      datasetVersion: run.datasetVersionId ? await findDatasetVersionLineage(db, run.datasetVersionId) : null,
      modelVersions: await Promise.all(versions.map((v) => getModelVersionLineage(db, v.id))),
    };
  },
});
