// Sweeps: create one from a pipeline (grid or seeded random points), run its points as sibling runs with at most
// `concurrency` active at once, pick the best by the sweep's metric and register it on request. Scheduling is derived
// from Postgres every time (decideSweepStep): called after creation, after each sibling run ends (workers) and on the
// worker's reconcile tick, so a crash anywhere only delays the next trigger; the idempotency key of a point
// ("sweep:<id>:<i>") makes a repeated trigger return the run it already made.
import {
  applyParams,
  decideSweepStep,
  expandSweep,
  isTerminal,
  METRIC_SOURCE,
  pickBest,
  resolveSpec,
  SweepError,
  sweepPointIndex,
  sweepPointKey,
  ZSweepCreate,
  type TRunStatus,
  type TSweepParams,
} from "@loraplane/core";
import {
  findModelVersionOfRun,
  findPipelineForTrigger,
  findRunById,
  findSweepById,
  insertSweep,
  listEvalValuesOfRuns,
  listRunningSweepIds,
  listSweepRuns,
  tryLockSweep,
  updateSweep,
  type Prisma,
  type TSweepRow,
} from "@loraplane/db";
import { ZPipelineSpec } from "@loraplane/core";
import { recordAudit, type TActor, type TRequestMeta } from "../audit/record-audit.ts";
import { ConflictError, isServiceError, NotFoundError, parseInput, ValidationError } from "../errors.ts";
import { registerModelVersion } from "../registry/register-model-version.ts";
import { triggerRun } from "../runs/trigger-run.ts";
import type { TRunDeps } from "../runs/deps.ts";

export interface TCreateSweepInput {
  projectId: string;
  pipelineId: string;
  body: unknown;
  actor: TActor;
  meta?: TRequestMeta;
}

/** Validates the sweep against the pipeline's current spec (every point must give a valid run spec), stores it and starts its first points. */
export async function createSweep(deps: TRunDeps, input: TCreateSweepInput): Promise<{ sweep: TSweepRow; triggered: number }> {
  const body = parseInput(ZSweepCreate, input.body);
  const pipeline = await findPipelineForTrigger(deps.db, input.pipelineId);
  if (!pipeline || pipeline.projectId !== input.projectId) throw new NotFoundError(`pipeline ${input.pipelineId} not found`);
  if (pipeline.archivedAt) throw new ConflictError(`pipeline ${pipeline.name} is archived`);
  const resolved = resolveSpec(pipeline.spec);
  if (!resolved.ok) {
    const issues = resolved.issues.map((i) => ({ path: `spec.${i.path}`, message: i.message }));
    throw new ValidationError(`the pipeline's spec is invalid: ${issues[0]!.path}: ${issues[0]!.message}`, issues);
  }
  const source = METRIC_SOURCE[body.metric];
  if (source === null || !resolved.spec.eval.metrics.includes(source)) {
    const message =
      source === null
        ? `${body.metric} comes from human review, not from the eval stage; a sweep optimises a metric evaluation computes`
        : `the pipeline's eval does not compute ${body.metric} (add "${source}" to eval.metrics)`;
    throw new ValidationError(message, [{ path: "metric", message }]);
  }
  let points: TSweepParams[];
  try {
    points = expandSweep(body);
  } catch (error) {
    if (error instanceof SweepError) throw new ValidationError(error.message, [{ path: error.path.replace(/^sweep\./, ""), message: error.message }]);
    throw error;
  }
  // Every point must make a valid run; refused here rather than as a failed trigger halfway through the sweep.
  for (const [i, params] of points.entries()) {
    try {
      applyParams(resolved.spec, params);
    } catch (error) {
      if (error instanceof SweepError) throw new ValidationError(`point ${i}: ${error.message}`, [{ path: `points[${i}].${error.path}`, message: error.message }]);
      throw error;
    }
  }
  const { name: _name, concurrency, ...spec } = body;
  const sweep = await deps.db.$transaction(async (tx) => {
    const row = await insertSweep(tx, {
      projectId: input.projectId,
      pipelineId: pipeline.id,
      spec: spec as Prisma.InputJsonValue,
      objectiveMetric: body.metric,
      direction: body.direction,
      concurrency,
      points: points as Prisma.InputJsonValue,
      createdById: input.actor.userId,
    });
    await recordAudit(
      tx,
      input.actor,
      { projectId: input.projectId, action: "sweep.create", subjectType: "sweep", subjectId: row.id, after: { pipelineId: pipeline.id, points: points.length, concurrency, metric: body.metric, direction: body.direction } },
      input.meta,
    );
    return row;
  });
  const step = await advanceSweep(deps, sweep.id);
  return { sweep, triggered: step.triggered.length };
}

function pointsOf(sweep: TSweepRow): TSweepParams[] {
  return Array.isArray(sweep.points) ? (sweep.points as TSweepParams[]) : [];
}

export interface TAdvanceResult {
  /** Point indexes triggered by this call. */
  triggered: number[];
  status: string;
  /** Another caller held the sweep's lock; it decides from the same state. */
  skipped?: boolean;
}

/**
 * One scheduling step of a sweep, under its advisory lock (so two callers never both fill the same free slot): trigger
 * the next points into free slots, refresh the best run, and close the sweep when every point's run has ended.
 */
export async function advanceSweep(deps: TRunDeps, sweepId: string): Promise<TAdvanceResult> {
  return deps.db.$transaction(
    async (tx) => {
      if (!(await tryLockSweep(tx, sweepId))) return { triggered: [], status: "locked", skipped: true };
      const sweep = await findSweepById(tx, sweepId);
      if (!sweep) throw new NotFoundError(`sweep ${sweepId} not found`);
      if (sweep.status !== "running" && sweep.status !== "cancelling") return { triggered: [], status: sweep.status };
      const points = pointsOf(sweep);
      const runs = await listSweepRuns(tx, sweepId);
      const indexed = runs.map((r) => ({ index: sweepPointIndex(sweepId, r.idempotencyKey) ?? -1, status: r.status as TRunStatus }));
      const step = decideSweepStep({ pointCount: points.length, concurrency: sweep.concurrency, runs: indexed, cancelled: sweep.status === "cancelling" });
      const triggered: number[] = [];
      for (const index of step.trigger) {
        try {
          // triggerRun commits on its own connection; this transaction keeps the sweep's lock until every trigger is in.
          await triggerRun(deps, {
            projectId: sweep.projectId,
            pipelineId: sweep.pipelineId,
            trigger: "sweep",
            sweepId,
            params: points[index]!,
            idempotencyKey: sweepPointKey(sweepId, index),
            requestedById: sweep.createdById ?? undefined,
          });
          triggered.push(index);
        } catch (error) {
          // The pipeline changed under the sweep (archived, dataset version gone, spec now invalid): stop it, say why.
          if (!isServiceError(error)) throw error;
          await updateSweep(tx, sweepId, { status: "failed", finishedAt: new Date() });
          await recordAudit(tx, { type: "system", userId: null }, { projectId: sweep.projectId, action: "sweep.fail", subjectType: "sweep", subjectId: sweepId, after: { point: index, reason: error.message } });
          return { triggered, status: "failed" };
        }
      }
      const best = await bestOf(tx, sweep, runs);
      const finished = step.finished && triggered.length === 0;
      const status = finished ? (sweep.status === "cancelling" ? "cancelled" : "completed") : sweep.status;
      await updateSweep(tx, sweepId, { bestRunId: best?.runId ?? null, bestValue: best?.value ?? null, ...(finished ? { status, finishedAt: new Date() } : {}) });
      return { triggered, status };
    },
    { maxWait: 15_000, timeout: 120_000 },
  );
}

/** The best sibling by the sweep's metric among runs that succeeded (passed their gate): only those can be registered. */
async function bestOf(db: Parameters<typeof listEvalValuesOfRuns>[0], sweep: TSweepRow, runs: readonly { id: string; status: string }[]) {
  const succeeded = runs.filter((r) => r.status === "succeeded");
  const values = await listEvalValuesOfRuns(db, succeeded.map((r) => r.id));
  return pickBest(succeeded.map((r) => ({ runId: r.id, metrics: values.get(r.id) ?? {} })), sweep.objectiveMetric, sweep.direction === "min" ? "min" : "max");
}

/** Every running sweep, one step each: the worker's reconcile tick calls this so no trigger waits for an event. */
export async function advanceRunningSweeps(deps: TRunDeps, onError?: (sweepId: string, error: unknown) => void): Promise<number> {
  let triggered = 0;
  for (const { id } of await listRunningSweepIds(deps.db)) {
    try {
      triggered += (await advanceSweep(deps, id)).triggered.length;
    } catch (error) {
      onError?.(id, error);
    }
  }
  return triggered;
}

/** Stops triggering new points; the sweep closes as cancelled once its active runs end (the caller cancels them). */
export async function requestSweepCancel(deps: TRunDeps, sweepId: string, actor: TActor, meta?: TRequestMeta): Promise<TSweepRow> {
  const sweep = await findSweepById(deps.db, sweepId);
  if (!sweep) throw new NotFoundError(`sweep ${sweepId} not found`);
  if (sweep.status !== "running") throw new ConflictError(`sweep is ${sweep.status}; only a running sweep can be cancelled`);
  await deps.db.$transaction(async (tx) => {
    await updateSweep(tx, sweepId, { status: "cancelling" });
    await recordAudit(tx, actor, { projectId: sweep.projectId, action: "sweep.cancel", subjectType: "sweep", subjectId: sweepId }, meta);
  });
  return (await findSweepById(deps.db, sweepId))!;
}

export interface TSweepPointView {
  index: number;
  params: TSweepParams;
  run: { id: string; number: number; status: string; startedAt: Date | null; finishedAt: Date | null } | null;
  metrics: Record<string, number>;
  /** The sweep's metric for this point (null until its eval reported it). */
  value: number | null;
}

export interface TSweepView {
  sweep: TSweepRow & { pipelineName: string };
  parameters: string[];
  points: TSweepPointView[];
  best: { runId: string; runNumber: number; value: number; index: number } | null;
  /** The best run's model version when it is already registered. */
  registered: { id: string; modelName: string; version: number } | null;
  /** Whether "register the best" is accepted now: a best run that succeeded and is not registered yet. */
  canRegisterBest: boolean;
  counts: Record<"total" | "active" | "finished" | "pending", number>;
}

export async function getSweepView(db: TRunDeps["db"], sweepId: string): Promise<TSweepView> {
  const sweep = await findSweepById(db, sweepId);
  if (!sweep) throw new NotFoundError(`sweep ${sweepId} not found`);
  const pipeline = await findPipelineForTrigger(db, sweep.pipelineId);
  const points = pointsOf(sweep);
  const runs = await listSweepRuns(db, sweepId);
  const byIndex = new Map(runs.map((r) => [sweepPointIndex(sweepId, r.idempotencyKey), r]));
  const values = await listEvalValuesOfRuns(db, runs.map((r) => r.id));
  const views: TSweepPointView[] = points.map((params, index) => {
    const run = byIndex.get(index) ?? null;
    const metrics = run ? (values.get(run.id) ?? {}) : {};
    return {
      index,
      params,
      run: run ? { id: run.id, number: run.number, status: run.status, startedAt: run.startedAt, finishedAt: run.finishedAt } : null,
      metrics,
      value: metrics[sweep.objectiveMetric] ?? null,
    };
  });
  const bestPoint = sweep.bestRunId ? views.find((p) => p.run?.id === sweep.bestRunId) : undefined;
  const best = bestPoint?.run && sweep.bestValue !== null ? { runId: bestPoint.run.id, runNumber: bestPoint.run.number, value: sweep.bestValue, index: bestPoint.index } : null;
  let registered: TSweepView["registered"] = null;
  if (best) {
    const bestRun = await findRunById(db, best.runId);
    const modelName = bestRun ? ZPipelineSpec.safeParse(bestRun.resolvedSpec).data?.model.name : undefined;
    const version = modelName ? await findModelVersionOfRun(db, best.runId, modelName) : null;
    if (version) registered = { id: version.id, modelName: version.modelName, version: version.version };
  }
  // jsonb keeps no key order: sorted, so the table and the CLI always show the same column order.
  const parameters = [...new Set(points.flatMap((p) => Object.keys(p)))].sort();
  const active = views.filter((p) => p.run && !isTerminal(p.run.status as TRunStatus)).length;
  const finished = views.filter((p) => p.run && isTerminal(p.run.status as TRunStatus)).length;
  return {
    sweep: { ...sweep, pipelineName: pipeline?.name ?? sweep.pipelineId },
    parameters,
    points: views,
    best,
    registered,
    canRegisterBest: best !== null && registered === null && bestPoint?.run?.status === "succeeded",
    counts: { total: views.length, active, finished, pending: views.length - active - finished },
  };
}

/** Registers the sweep's best run as the next version of its model (the registry's own checks apply: only an evaluated adapter). */
export async function registerBestOfSweep(deps: TRunDeps, input: { sweepId: string; actor: TActor; meta?: TRequestMeta }) {
  const sweep = await findSweepById(deps.db, input.sweepId);
  if (!sweep) throw new NotFoundError(`sweep ${input.sweepId} not found`);
  // The best is re-derived from Postgres first, so a click on a stale page registers what is best now.
  await advanceSweep(deps, sweep.id);
  const fresh = (await findSweepById(deps.db, sweep.id))!;
  if (!fresh.bestRunId) throw new ConflictError(`sweep has no best run yet: no sibling run succeeded with ${fresh.objectiveMetric}`);
  const { version, created } = await registerModelVersion(deps.db, fresh.bestRunId);
  if (created) {
    await recordAudit(
      deps.db,
      input.actor,
      { projectId: fresh.projectId, action: "sweep.register_best", subjectType: "sweep", subjectId: fresh.id, after: { runId: fresh.bestRunId, modelVersionId: version.id, version: version.version, value: fresh.bestValue } },
      input.meta,
    );
  }
  return { modelVersion: { id: version.id, modelName: version.modelName, version: version.version }, runId: fresh.bestRunId, value: fresh.bestValue, created };
}
