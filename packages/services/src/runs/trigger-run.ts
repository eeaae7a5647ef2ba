import { applyParams, planStages, resolveSpec, SweepError, type TPipelineSpec, ZSweepParams } from "@loraplane/core";
import { createHash } from "node:crypto";
import {
  ensureStageRun,
  findDatasetVersionByName,
  findDatasetVersionInProject,
  findUserIdByEmail,
  setRunDuties,
  findEnvironmentsByName,
  findPipelineForTrigger,
  findRunByIdempotencyKey,
  insertRun,
  lockPipelineForRunCreation,
  nextRunNumber,
  type Prisma,
  type TRunRow,
} from "@loraplane/db";
import { z } from "zod";
import { traceparentOf, withSpan } from "../telemetry/index.ts";
import { recordAudit } from "../audit/record-audit.ts";
import { ConflictError, IdempotencyKeyReusedError, NotFoundError, parseInput, ValidationError } from "../errors.ts";
import type { TRunDeps } from "./deps.ts";

export const ZTriggerRunInput = z.object({
  projectId: z.string().min(1),
  pipelineId: z.string().min(1),
  trigger: z.enum(["ui", "api", "webhook", "schedule", "sweep", "retry"]),
  requestedById: z.string().min(1).optional(),
  requestedByToken: z.string().min(1).optional(),
  idempotencyKey: z.string().min(1).max(200).optional(),
  gitCommit: z.string().regex(/^[0-9a-f]{7,64}$/i, "must be a hex commit SHA").optional(),
  gitRef: z.string().min(1).max(250).optional(),
  params: ZSweepParams.optional(),
  sweepId: z.string().min(1).optional(),
  /** Train on this version of a project dataset instead of the spec's (a version built from feedback). */
  datasetVersionId: z.string().min(1).optional(),
  /** The git pusher of a push-triggered run (from the provider's payload); mapped to a user by e-mail when one exists. */
  pushedBy: z.object({ email: z.string().max(320).nullish(), name: z.string().max(200).nullish() }).optional(),
});
export type TTriggerRunInput = z.input<typeof ZTriggerRunInput>;

export interface TTriggerRunResult {
  run: { id: string; number: number; status: TRunRow["status"] };
  created: boolean;
}

const summary = (run: TRunRow) => ({ id: run.id, number: run.number, status: run.status });

/** JSON with object keys sorted, so `{a, b}` and `{b, a}` are the same request. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value ?? null);
}

/** sha256 of what the caller asked for (commit, ref, params): stored with the idempotency key. */
export function triggerBodyHash(input: { gitCommit?: string; gitRef?: string; params?: Record<string, unknown>; datasetVersionId?: string }): string {
  const body = {
    gitCommit: input.gitCommit?.toLowerCase() ?? null,
    gitRef: input.gitRef ?? null,
    params: input.params ?? {},
    ...(input.datasetVersionId ? { datasetVersionId: input.datasetVersionId } : {}),
  };
  return createHash("sha256").update(canonicalJson(body)).digest("hex");
}

/** The run an idempotency key already created, or a 422 when the key was first sent with another body. */
function sameRequestOr422(existing: TRunRow, bodyHash: string): TTriggerRunResult {
  if (existing.idempotencyBodyHash && existing.idempotencyBodyHash !== bodyHash) {
    throw new IdempotencyKeyReusedError(
      `Idempotency-Key "${existing.idempotencyKey}" was already used for run ${existing.id} (#${existing.number}) with a different request body; use a new key for a different request`,
      [{ path: "headers.idempotency-key", message: "already used with a different body" }],
    );
  }
  return { run: summary(existing), created: false };
}

/**
 * Validates the pipeline's spec against the catalog (dataset version, environments) and creates a queued run with
 * its first stage; nothing is created when anything is wrong. Same idempotency key → the same run, also under
 * concurrency (creation is serialised per pipeline by an advisory lock).
 */
export async function triggerRun(deps: TRunDeps, raw: TTriggerRunInput): Promise<TTriggerRunResult> {
  const input = parseInput(ZTriggerRunInput, raw);
  const { db } = deps;

  const bodyHash = triggerBodyHash(input);
  if (input.idempotencyKey) {
    const existing = await findRunByIdempotencyKey(db, input.pipelineId, input.idempotencyKey);
    if (existing) return sameRequestOr422(existing, bodyHash);
  }

  const pipeline = await findPipelineForTrigger(db, input.pipelineId);
  if (!pipeline || pipeline.projectId !== input.projectId) throw new NotFoundError(`pipeline ${input.pipelineId} not found`);
  if (pipeline.archivedAt) throw new ConflictError(`pipeline ${pipeline.name} is archived`);

  const resolved = resolveSpec(pipeline.spec);
  if (!resolved.ok) {
    const issues = resolved.issues.map((i) => ({ path: `spec.${i.path}`, message: i.message }));
    throw new ValidationError(`the pipeline's spec is invalid: ${issues[0]!.path}: ${issues[0]!.message}`, issues);
  }
  let spec: TPipelineSpec = resolved.spec;
  if (input.params && Object.keys(input.params).length > 0) {
    try {
      spec = applyParams(spec, input.params);
    } catch (error) {
      if (error instanceof SweepError) throw new ValidationError(error.message, [{ path: `params.${error.path}`, message: error.message }]);
      throw error;
    }
  }
  if (input.datasetVersionId) {
    const chosen = await findDatasetVersionInProject(db, input.projectId, input.datasetVersionId);
    if (!chosen) throw new ValidationError(`datasetVersionId: no dataset version ${input.datasetVersionId} in this project`, [{ path: "datasetVersionId", message: "not found in this project" }]);
    // The run's spec names what it trained on, so its lineage and reproduction read the same version.
    spec = { ...spec, dataset: { ...spec.dataset, name: chosen.datasetName, version: chosen.version, format: chosen.format } };
  }
  const { sweep: _sweep, ...specOfRun } = spec;
  // A sweep's sibling runs end after evaluation and gate (register records nothing for them): none of them deploys.
  const runSpec = input.sweepId ? { ...specOfRun, deploy: null } : specOfRun;

  const datasetVersion = await findDatasetVersionByName(db, input.projectId, spec.dataset.name, spec.dataset.version);
  if (!datasetVersion) {
    const message = `dataset "${spec.dataset.name}" has no version "${spec.dataset.version}"`;
    throw new ValidationError(message, [{ path: "spec.dataset.version", message }]);
  }
  if (runSpec.deploy) {
    const envs = await findEnvironmentsByName(db, input.projectId, runSpec.deploy.environments);
    const missing = runSpec.deploy.environments.map((n, i) => ({ n, i })).filter(({ n }) => !envs.some((e) => e.name === n));
    if (missing.length > 0) {
      throw new ValidationError(
        `unknown environment(s): ${missing.map((m) => m.n).join(", ")}`,
        missing.map(({ n, i }) => ({ path: `spec.deploy.environments[${i}]`, message: `no environment named "${n}" in this project` })),
      );
    }
  }
  const firstStage = planStages(runSpec)[0]!;
  const pusherEmail = input.pushedBy?.email?.trim() || null;
  const pushedById = pusherEmail ? ((await findUserIdByEmail(db, pusherEmail))?.id ?? null) : null;
  const pushedByIdentity = pusherEmail ?? (input.pushedBy?.name?.trim() || null);

  // The run's trace starts here; its traceparent is stored on the run so every stage joins it.
  const attributes = { "loraplane.project_id": input.projectId, "loraplane.pipeline_id": pipeline.id, "loraplane.trigger": input.trigger };
  return withSpan("run.trigger", attributes, null, async (span) => {
    const traceparent = traceparentOf(span);
    const outcome = await db.$transaction(async (tx) => {
      await lockPipelineForRunCreation(tx, pipeline.id);
      if (input.idempotencyKey) {
        const existing = await findRunByIdempotencyKey(tx, pipeline.id, input.idempotencyKey);
        if (existing) return { ...sameRequestOr422(existing, bodyHash), run: existing };
      }
      const run = await insertRun(tx, {
        projectId: input.projectId,
        pipelineId: pipeline.id,
        number: await nextRunNumber(tx, pipeline.id),
        trigger: input.trigger,
        gitCommit: input.gitCommit?.toLowerCase() ?? null,
        gitRef: input.gitRef ?? null,
        idempotencyKey: input.idempotencyKey ?? null,
        idempotencyBodyHash: input.idempotencyKey ? bodyHash : null,
        requestedById: input.requestedById ?? null,
        requestedByToken: input.requestedByToken ?? null,
        specVersion: pipeline.specVersion,
        resolvedSpec: runSpec as Prisma.InputJsonValue,
        datasetVersionId: datasetVersion.id,
        sweepId: input.sweepId ?? null,
        params: (input.params as Prisma.InputJsonValue | undefined) ?? null,
        traceparent,
      });
      await setRunDuties(tx, run.id, { pushedById, pushedByIdentity, specEditedById: pipeline.specEditedById ?? null });
      await ensureStageRun(tx, run.id, firstStage, 1);
      await recordAudit(
        tx,
        { type: input.requestedById ? (input.requestedByToken ? "token" : "user") : "system", userId: input.requestedById ?? null, tokenId: input.requestedByToken ?? null },
        { projectId: input.projectId, action: "run.trigger", subjectType: "run", subjectId: run.id, after: { number: run.number, trigger: input.trigger, gitCommit: run.gitCommit } },
      );
      return { run, created: true };
      // Triggers of one pipeline queue on its advisory lock; under a burst, waiting for a connection is expected.
    }, { maxWait: 15_000, timeout: 20_000 });

    if (outcome.created) {
      // A failed enqueue leaves a queued run in Postgres; the reconciler enqueues it, so the trigger still succeeds.
      await deps.queue.enqueueStage({ runId: outcome.run.id, stage: firstStage, attempt: 1 }).catch(() => undefined);
    }
    span.setAttribute("loraplane.run_id", outcome.run.id);
    span.setAttribute("loraplane.run_created", String(outcome.created));
    return { run: summary(outcome.run), created: outcome.created };
  });
}
