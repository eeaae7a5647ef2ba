// Sweeps (create, list, view, cancel, register the best) and run comparison.
import { KNOWN_METRICS, MAX_SWEEP_CONCURRENCY } from "@loraplane/core";
import { findRunDetail, listEvalValuesOfRuns, listMetricSeries, listSweepsOfPipeline, listSweepRuns } from "@loraplane/db";
import { cancelRun, createSweep, getSweepView, isServiceError, queryMetricSeries, registerBestOfSweep, requestSweepCancel } from "@loraplane/services";
import { z } from "../api/zod.ts";
import { serverContext } from "../context.ts";
import { HttpError, notFound } from "../api/errors.ts";
import { defineRoute } from "../api/route.ts";
import { boundedRecord, ZDateTime, ZId, ZNullableDateTime } from "../api/schemas.ts";

const bySweep = { owner: "sweep", param: "sweepId" } as const;
const sweepParams = z.object({ sweepId: ZId });
const ZValue = z.union([z.number(), z.string().max(200), z.boolean()]);

/** The shape of the body; the service applies the sweep rules (sweepable paths, ranges, expansion size) with field paths. */
const ZSweepBody = z.object({
  name: z.string().max(120).optional(),
  concurrency: z.number().int().min(1).max(MAX_SWEEP_CONCURRENCY).default(2).describe("how many sibling runs may be active at once"),
  grid: boundedRecord(z.array(ZValue).min(1).max(256), 20).optional().describe('values per sweepable path: { "training.learningRate": [1e-4, 3e-4] }'),
  random: boundedRecord(
    z.object({ min: z.number(), max: z.number(), scale: z.enum(["linear", "log"]).optional(), integer: z.boolean().optional() }).strict(),
    20,
  )
    .optional()
    .describe("seeded random ranges per sweepable path; `samples` draws per grid point"),
  samples: z.number().int().min(1).max(256).optional(),
  seed: z.number().int().min(-2_147_483_648).max(2_147_483_647).optional(),
  metric: z.enum(KNOWN_METRICS).describe("the eval metric to optimise (the pipeline's eval must compute it)"),
  direction: z.enum(["max", "min"]).optional(),
  maxRuns: z.number().int().min(1).max(256).optional(),
});

const ZSweep = z.object({
  id: z.string(),
  projectId: z.string(),
  pipelineId: z.string(),
  spec: z.unknown(),
  objectiveMetric: z.string(),
  direction: z.string(),
  concurrency: z.number(),
  status: z.string().describe("running | cancelling | completed | cancelled | failed"),
  bestRunId: z.string().nullable(),
  bestValue: z.number().nullable(),
  points: z.unknown(),
  createdById: z.string().nullable(),
  createdAt: ZDateTime,
  finishedAt: ZNullableDateTime,
});

export const createSweepRoute = defineRoute({
  operationId: "createSweep",
  method: "post",
  path: "/api/v1/pipelines/{pipelineId}/sweeps",
  summary: "Create a hyperparameter sweep over the pipeline's sweepable settings (grid and/or seeded random); its points run as sibling runs, at most `concurrency` at once",
  tags: ["sweeps"],
  auth: { kind: "user", scope: "runs:write", role: "engineer", project: { owner: "pipeline", param: "pipelineId" } },
  params: z.object({ pipelineId: ZId }),
  body: ZSweepBody,
  response: z.object({ sweep: ZSweep, triggered: z.number() }),
  status: 201,
  handler: async ({ db, params, body, projectId, actor, meta, log }) => {
    const result = await createSweep({ db, queue: serverContext().queue() }, { projectId: projectId!, pipelineId: params.pipelineId, body, actor, meta });
    log.info({ sweepId: result.sweep.id, points: (result.sweep.points as unknown[]).length, triggered: result.triggered }, "sweep created");
    return result;
  },
});

export const listSweepsRoute = defineRoute({
  operationId: "listPipelineSweeps",
  method: "get",
  path: "/api/v1/pipelines/{pipelineId}/sweeps",
  summary: "The pipeline's sweeps, newest first, with how many of their points have a run",
  tags: ["sweeps"],
  auth: { kind: "user", scope: "runs:read", role: "viewer", project: { owner: "pipeline", param: "pipelineId" } },
  params: z.object({ pipelineId: ZId }),
  response: z.object({ items: z.array(ZSweep.extend({ runs: z.number() })) }),
  handler: async ({ db, params }) => {
    const sweeps = await listSweepsOfPipeline(db, params.pipelineId);
    return { items: await Promise.all(sweeps.map(async (s) => ({ ...s, runs: (await listSweepRuns(db, s.id)).length }))) };
  },
});

const ZPointRun = z.object({ id: z.string(), number: z.number(), status: z.string(), startedAt: ZNullableDateTime, finishedAt: ZNullableDateTime });

export const getSweepRoute = defineRoute({
  operationId: "getSweep",
  method: "get",
  path: "/api/v1/sweeps/{sweepId}",
  summary: "A sweep with each point's params, run and metrics, the best run and whether registering it is possible now",
  tags: ["sweeps"],
  auth: { kind: "user", scope: "runs:read", role: "viewer", project: bySweep },
  params: sweepParams,
  response: z.object({
    sweep: ZSweep.extend({ pipelineName: z.string() }),
    parameters: z.array(z.string()),
    points: z.array(z.object({ index: z.number(), params: z.record(z.string(), z.unknown()), run: ZPointRun.nullable(), metrics: z.record(z.string(), z.number()), value: z.number().nullable() })),
    best: z.object({ runId: z.string(), runNumber: z.number(), value: z.number(), index: z.number() }).nullable(),
    registered: z.object({ id: z.string(), modelName: z.string(), version: z.number() }).nullable(),
    canRegisterBest: z.boolean(),
    counts: z.object({ total: z.number(), active: z.number(), finished: z.number(), pending: z.number() }),
  }),
  handler: async ({ db, params }) => getSweepView(db, params.sweepId),
});

export const registerBestRoute = defineRoute({
  operationId: "registerSweepBest",
  method: "post",
  path: "/api/v1/sweeps/{sweepId}/register-best",
  summary: "Register the sweep's best run (by its metric, among runs that passed their gate) as the next version of its model; again → the same version (200)",
  tags: ["sweeps"],
  auth: { kind: "user", scope: "models:write", role: "engineer", project: bySweep },
  params: sweepParams,
  body: z.object({}),
  response: z.object({ modelVersion: z.object({ id: z.string(), modelName: z.string(), version: z.number() }), runId: z.string(), value: z.number().nullable(), created: z.boolean() }),
  status: 201,
  handler: async ({ db, params, actor, meta }) => {
    const result = await registerBestOfSweep({ db, queue: serverContext().queue() }, { sweepId: params.sweepId, actor, meta });
    return Response.json(result, { status: result.created ? 201 : 200 });
  },
});

export const cancelSweepRoute = defineRoute({
  operationId: "cancelSweep",
  method: "post",
  path: "/api/v1/sweeps/{sweepId}/cancel",
  summary: "Stop a running sweep: no further point is triggered and its active runs are cancelled",
  tags: ["sweeps"],
  auth: { kind: "user", scope: "runs:write", role: "engineer", project: bySweep },
  params: sweepParams,
  body: z.object({}),
  response: z.object({ status: z.string(), cancelledRuns: z.number() }),
  handler: async ({ db, params, actor, meta }) => {
    const deps = { db, queue: serverContext().queue() };
    const sweep = await requestSweepCancel(deps, params.sweepId, actor, meta);
    let cancelledRuns = 0;
    for (const run of await listSweepRuns(db, sweep.id)) {
      if (!["queued", "running", "waiting_approval", "awaiting_review"].includes(run.status)) continue;
      try {
        await cancelRun(deps, { runId: run.id, actor, reason: `sweep ${sweep.id} cancelled` });
        cancelledRuns++;
      } catch (error) {
        // It ended on its own meanwhile.
        if (!isServiceError(error)) throw error;
      }
    }
    return { status: sweep.status, cancelledRuns };
  },
});

const MAX_COMPARE = 10;

export const compareRunsRoute = defineRoute({
  operationId: "compareRuns",
  method: "get",
  path: "/api/v1/runs/compare",
  summary: "Compare 2–10 runs of one project: their specs and params, eval metrics side by side, and metric curves downsampled on the server",
  tags: ["runs"],
  // The project is that of the runs named in `ids`; the handler checks the caller may see it.
  auth: { kind: "user", scope: "runs:read" },
  query: z.object({
    ids: z
      .string()
      .max(MAX_COMPARE * 65)
      .describe("comma-separated run ids, 2 to 10")
      .transform((s) => [...new Set(s.split(",").map((x) => x.trim()).filter(Boolean))])
      .pipe(z.array(ZId).min(2, "list at least 2 different runs").max(MAX_COMPARE, `list at most ${MAX_COMPARE} runs`)),
    keys: z
      .string()
      .max(2000)
      .optional()
      .describe("comma-separated metric keys to overlay (default: every key containing `loss`)")
      .transform((s) => (s === undefined ? undefined : s.split(",").map((k) => k.trim()).filter(Boolean))),
    maxPoints: z.coerce.number().int().min(4).max(5000).default(500),
  }),
  response: z.object({
    projectId: z.string(),
    runs: z.array(
      z.object({
        id: z.string(),
        number: z.number(),
        status: z.string(),
        pipelineId: z.string(),
        pipelineName: z.string(),
        specVersion: z.number(),
        params: z.unknown(),
        resolvedSpec: z.unknown(),
        createdAt: ZDateTime,
        finishedAt: ZNullableDateTime,
      }),
    ),
    metrics: z.array(z.string()).describe("eval metrics any of the runs reported"),
    evals: z.record(z.string(), z.record(z.string(), z.number())).describe("run id → metric → value"),
    series: z.array(z.object({ runId: z.string(), key: z.string(), points: z.array(z.object({ step: z.number(), value: z.number() })), downsampled: z.boolean(), totalPoints: z.number() })),
  }),
  handler: async ({ db, query, visibleProjectIds }) => {
    const visible = new Set(await visibleProjectIds("viewer"));
    const runs: NonNullable<Awaited<ReturnType<typeof findRunDetail>>>[] = [];
    for (const [i, id] of query.ids.entries()) {
      const run = await findRunDetail(db, id);
      // Another project's run is as unknown as a missing one.
      if (!run || !visible.has(run.projectId)) throw notFound(`run ${id} (query.ids[${i}])`);
      runs.push(run);
    }
    const projectId = runs[0]!.projectId;
    const strangers = runs.map((r, i) => ({ r, i })).filter(({ r }) => r.projectId !== projectId);
    if (strangers.length > 0) {
      throw new HttpError(
        400,
        "validation_failed",
        "runs of different projects cannot be compared",
        strangers.map(({ r, i }) => ({ path: `query.ids[${i}]`, message: `run ${r.id} belongs to another project than ${runs[0]!.id}` })),
      );
    }
    const ids = runs.map((r) => r.id);
    const evalValues = await listEvalValuesOfRuns(db, ids);
    const evals = Object.fromEntries(ids.map((id) => [id, evalValues.get(id) ?? {}]));
    const metrics = [...new Set(Object.values(evals).flatMap((m) => Object.keys(m)))].sort();
    const series = [];
    for (const run of runs) {
      const own = (await listMetricSeries(db, run.id)).map((s) => s.key);
      const keys = (query.keys ?? own.filter((k) => k.includes("loss"))).filter((k) => own.includes(k));
      if (keys.length === 0) continue;
      for (const s of await queryMetricSeries(db, { runId: run.id, keys, maxPoints: query.maxPoints })) {
        series.push({ runId: run.id, key: s.key, points: s.points.map((p) => ({ step: p.step, value: p.value })), downsampled: s.downsampled, totalPoints: s.total });
      }
    }
    return {
      projectId,
      runs: runs.map((r) => ({
        id: r.id,
        number: r.number,
        status: r.status,
        pipelineId: r.pipelineId,
        pipelineName: r.pipeline.name,
        specVersion: r.specVersion,
        params: r.params,
        resolvedSpec: r.resolvedSpec,
        createdAt: r.createdAt,
        finishedAt: r.finishedAt,
      })),
      metrics,
      evals,
      series,
    };
  },
});
