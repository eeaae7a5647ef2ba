// Train and eval stages: launch (or re-attach to) the workload, stream its stdout events into Postgres, enforce the
// stage timeout and the heartbeat timeout, stop it on cancel, and collect its result.
import path from "node:path";
import { ingestMetricPoints, issueRunToken, type TEvaluatedAdapter, workloadTraceEnv } from "@loraplane/services";
import {
  findArtifactsByUris,
  findLatestStageRun,
  findRunById,
  findStageRun,
  insertEvalSamples,
  listEarlierAttemptCheckpoints,
  listStageRunAdapters,
  updateStageRunIf,
  upsertArtifacts,
  upsertEvalResults,
  type Prisma,
  type TRunRow,
  type TStageRow,
} from "@loraplane/db";
import type { TPipelineSpec } from "@loraplane/core";
import type { TWorkloadHandle, TWorkloadSpec } from "../executors/types.ts";
import { measureDirectoryDigest, type TDigestMeasurement } from "./adapter-digest.ts";
import type { TEngineContext } from "./context.ts";
import type { TStageOutcome } from "./outcome.ts";

const EXIT_MEANING: Record<number, string> = {
  1: "runtime error",
  2: "invalid job configuration",
  3: "invalid dataset",
  4: "out of memory",
  75: "preempted after a checkpoint",
  137: "killed (SIGKILL)",
  143: "terminated (SIGTERM)",
};

const ARTIFACT_KINDS = new Set(["adapter", "checkpoint", "eval_report", "merged_model", "onnx", "dataset", "logs", "other"]);

interface TEventState {
  result: Record<string, unknown> | null;
  points: { key: string; step: number; value: number; timestamp?: number }[];
  progress: { step?: number; totalSteps?: number; progress?: number; etaSeconds?: number | null } | null;
  lastEventAt: number;
}

async function handleLines(ctx: TEngineContext, run: TRunRow, stageRow: TStageRow, lines: string[], st: TEventState): Promise<void> {
  for (const line of lines) {
    let event: Record<string, unknown>;
    try {
      event = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue; // stdout is reserved for events, but a stray print must not stop ingest
    }
    st.lastEventAt = Date.now();
    switch (event.event) {
      case "metrics":
        if (Array.isArray(event.points)) st.points.push(...(event.points as TEventState["points"]));
        break;
      case "progress":
        st.progress = {
          step: typeof event.step === "number" ? event.step : undefined,
          totalSteps: typeof event.totalSteps === "number" ? event.totalSteps : undefined,
          progress: typeof event.progress === "number" ? event.progress : undefined,
          etaSeconds: typeof event.etaSeconds === "number" ? event.etaSeconds : null,
        };
        break;
      case "artifact":
        if (typeof event.uri === "string" && typeof event.kind === "string" && ARTIFACT_KINDS.has(event.kind)) {
          // The same rules as the ingest API: adapters come from train only, and another attempt's artifact is immutable.
          if (event.kind === "adapter" && stageRow.stage !== "train") {
            ctx.log.warn({ runId: run.id, stage: stageRow.stage, uri: event.uri }, "ignored an adapter artifact reported by a stage other than train");
            break;
          }
          const [existing] = await findArtifactsByUris(ctx.db, run.id, [event.uri]);
          if (existing && existing.stageRunId !== stageRow.id) {
            ctx.log.warn({ runId: run.id, stage: stageRow.stage, uri: event.uri }, "ignored an artifact that another stage attempt reported");
            break;
          }
          await upsertArtifacts(ctx.db, run.id, stageRow.id, [
            {
              kind: event.kind as "adapter",
              uri: event.uri,
              sha256: typeof event.sha256 === "string" ? event.sha256 : null,
              sizeBytes: typeof event.sizeBytes === "number" ? event.sizeBytes : null,
            },
          ]);
        }
        break;
      case "resumed":
        // What the runtime actually continued from (its own attempt's checkpoint wins over the one handed over).
        if (typeof event.checkpoint === "string" && typeof event.step === "number") {
          await updateStageRunIf(ctx.db, stageRow.id, ["running"], { resumedFromUri: event.checkpoint, resumedFromStep: event.step });
        }
        break;
      case "result":
        st.result = event;
        break;
      default:
        break;
    }
  }
  while (st.points.length > 0) {
    const batch = st.points.splice(0, 1000);
    const { accepted } = await ingestMetricPoints(ctx.db, run.id, batch);
    ctx.metrics.ingestedPoints.inc(accepted);
  }
}

/** Measures an adapter or checkpoint directory where the worker can read it; null when it cannot (a volume it does not mount). */
async function measureDirectory(ctx: TEngineContext, uri: string): Promise<TDigestMeasurement | null> {
  const dir = ctx.executor.hostPath(uri);
  return dir === null ? null : measureDirectoryDigest(dir);
}

/**
 * The adapter artifact the train attempt reported for the directory it returned, with its digest checked against the
 * files (where the worker can read them). Eval records it; registration registers exactly this artifact.
 */
async function adapterToEvaluate(ctx: TEngineContext, trainStageRunId: string, adapterDir: string): Promise<{ ok: true; adapter: TEvaluatedAdapter } | { ok: false; reason: string }> {
  const reported = await listStageRunAdapters(ctx.db, trainStageRunId);
  const norm = (u: string) => path.posix.normalize(u.startsWith("file://") ? decodeURIComponent(new URL(u).pathname) : u);
  const artifact = reported.filter((a) => norm(a.uri) === norm(adapterDir)).at(-1);
  if (!artifact) return { ok: false, reason: `the train stage reported no adapter artifact for ${adapterDir}` };
  if (!artifact.sha256) return { ok: false, reason: `adapter artifact ${artifact.uri} has no sha256` };
  const measured = await measureDirectory(ctx, artifact.uri);
  if (measured && !measured.ok) return { ok: false, reason: `adapter ${artifact.uri} fails verification: ${measured.reason}` };
  if (measured && measured.sha256 !== artifact.sha256) {
    return { ok: false, reason: `adapter ${artifact.uri} does not match its digest: reported sha256 ${artifact.sha256}, measured ${measured.sha256}` };
  }
  return { ok: true, adapter: { artifactId: artifact.id, uri: artifact.uri, sha256: artifact.sha256 } };
}

/**
 * A retried train attempt continues from the newest checkpoint an earlier attempt reported whose files still match
 * their digest (the runtime prunes old checkpoints; a changed one is never trusted). Where the worker cannot read the
 * volume, the runtime's own guard (same model, dataset digest and training spec) is the check.
 */
async function checkpointToResume(ctx: TEngineContext, runId: string, stageRow: TStageRow): Promise<{ uri: string; step: number } | null> {
  if (stageRow.stage !== "train" || stageRow.attempt <= 1) return null;
  const candidates = (await listEarlierAttemptCheckpoints(ctx.db, runId, "train", stageRow.attempt))
    .map((a) => ({ ...a, step: Number(/\/step-(\d+)\/?$/.exec(a.uri)?.[1] ?? Number.NaN) }))
    .filter((a) => Number.isFinite(a.step) && a.sha256)
    .sort((a, b) => b.step - a.step || b.attempt - a.attempt);
  for (const c of candidates) {
    const measured = await measureDirectory(ctx, c.uri);
    if (measured === null || (measured.ok && measured.sha256 === c.sha256)) return { uri: c.uri, step: c.step };
    ctx.log.info({ runId, uri: c.uri, reason: measured.ok ? "digest changed" : measured.reason }, "not resuming from a checkpoint that no longer verifies");
  }
  return null;
}

function jobSpecFor(spec: TPipelineSpec): Record<string, unknown> {
  const { sweep: _sweep, ...rest } = spec as TPipelineSpec & { sweep?: unknown };
  return rest;
}

export async function runWorkloadStage(ctx: TEngineContext, run: TRunRow, spec: TPipelineSpec, stageRow: TStageRow): Promise<TStageOutcome> {
  const stage = stageRow.stage as "train" | "eval";
  const prepare = await findLatestStageRun(ctx.db, run.id, "prepare");
  const prepared = prepare?.status === "succeeded" ? (prepare.result as { dataDir?: string; baseModel?: string } | null) : null;
  if (!prepared?.dataDir || !prepared.baseModel) return { status: "failed", reason: "the prepare stage has no resolved dataset and base model" };
  let adapterDir: string | undefined;
  let adapter: TEvaluatedAdapter | undefined;
  if (stage === "eval") {
    const train = await findLatestStageRun(ctx.db, run.id, "train");
    adapterDir = (train?.result as { adapterDir?: string } | null)?.adapterDir;
    if (train?.status !== "succeeded" || !adapterDir) return { status: "failed", reason: "the train stage produced no adapter to evaluate" };
    const chosen = await adapterToEvaluate(ctx, train.id, adapterDir);
    if (!chosen.ok) return { status: "failed", reason: chosen.reason };
    adapter = chosen.adapter;
  }
  const timeoutSeconds = stage === "train" ? spec.timeouts.trainSeconds : spec.timeouts.evalSeconds;
  // The runtime's spans join the run's trace as children of this stage's span (off when tracing is).
  const env: Record<string, string> = workloadTraceEnv();
  if (ctx.executor.kind === "kubernetes") {
    // Remote workloads report over HTTP with a token bound to this run, stage and attempt, revoked when it ends.
    const token = await issueRunToken(ctx.db, { runId: run.id, stage, attempt: stageRow.attempt }, timeoutSeconds + 3600);
    env.LORAPLANE_URL = ctx.options.publicUrl;
    env.LORAPLANE_RUN_TOKEN = token.secret;
  }
  const resume = await checkpointToResume(ctx, run.id, stageRow);
  const workload: TWorkloadSpec = {
    runId: run.id,
    projectId: run.projectId,
    stage,
    attempt: stageRow.attempt,
    command: stage === "train" ? "train" : "evaluate",
    job: {
      runId: run.id,
      stage,
      paths: { baseModel: prepared.baseModel, dataDir: prepared.dataDir, ...(adapterDir ? { adapterDir } : {}), ...(resume ? { resumeFrom: resume.uri } : {}) },
      spec: jobSpecFor(spec),
    },
    resources: spec.resources,
    distributed: spec.distributed,
    timeoutSeconds,
    env,
  };

  ctx.onLaunch?.(run.id, stage, stageRow.attempt);
  const handle = await ctx.executor.launch(workload);
  if (handle.launched) ctx.metrics.launches.inc({ stage, executor: ctx.executor.kind });
  else ctx.metrics.reattaches.inc({ stage });
  ctx.log.info({ runId: run.id, stage, attempt: stageRow.attempt, externalId: handle.externalId, launched: handle.launched }, handle.launched ? "workload launched" : "re-attached to workload");
  await updateStageRunIf(ctx.db, stageRow.id, ["running"], {
    executor: ctx.executor.kind,
    externalId: handle.externalId,
    timeoutSeconds,
    logsUri: ctx.executor.logsUri(handle),
    ...(resume ? { resumedFromUri: resume.uri, resumedFromStep: resume.step } : {}),
  });

  ctx.metrics.watching.inc();
  try {
    return await watch(ctx, run, stageRow, handle, timeoutSeconds, adapter);
  } finally {
    ctx.metrics.watching.dec();
  }
}

async function watch(ctx: TEngineContext, run: TRunRow, stageRow: TStageRow, handle: TWorkloadHandle, timeoutSeconds: number, adapter?: TEvaluatedAdapter): Promise<TStageOutcome> {
  const started = (stageRow.startedAt ?? new Date()).getTime();
  const st: TEventState = { result: null, points: [], progress: null, lastEventAt: Math.max(Date.now(), stageRow.heartbeatAt?.getTime() ?? 0) };
  let offset = 0;
  let lastCancelCheck = 0;
  let lastHeartbeatWrite = 0;
  const failWithLogs = async (reason: string): Promise<TStageOutcome> => {
    const tail = await ctx.executor.tailLogs(handle, ctx.options.logTailLines).catch(() => []);
    return { status: "failed", reason: tail.length ? `${reason}\n--- last log lines ---\n${tail.join("\n")}` : reason };
  };

  for (;;) {
    const read = await ctx.executor.readEvents(handle, offset);
    offset = read.offset;
    if (read.lines.length) await handleLines(ctx, run, stageRow, read.lines, st);
    const now = Date.now();
    if (now - lastHeartbeatWrite >= 2000 && st.lastEventAt > lastHeartbeatWrite) {
      lastHeartbeatWrite = now;
      await updateStageRunIf(ctx.db, stageRow.id, ["running"], {
        heartbeatAt: new Date(st.lastEventAt),
        ...(st.progress?.step === undefined ? {} : { step: st.progress.step }),
        ...(st.progress?.totalSteps === undefined ? {} : { totalSteps: st.progress.totalSteps }),
        ...(st.progress?.progress === undefined ? {} : { progress: st.progress.progress }),
        ...(st.progress ? { etaSeconds: st.progress.etaSeconds ?? null } : {}),
      });
    }

    const state = await ctx.executor.state(handle);
    if (state.phase !== "running") {
      // Drain whatever the workload wrote between the last read and its exit.
      for (;;) {
        const rest = await ctx.executor.readEvents(handle, offset);
        if (rest.lines.length === 0) break;
        offset = rest.offset;
        await handleLines(ctx, run, stageRow, rest.lines, st);
      }
      if (state.phase === "lost") return failWithLogs(`workload lost: ${state.reason}`);
      await updateStageRunIf(ctx.db, stageRow.id, ["running"], { exitCode: state.exitCode });
      if (state.exitCode !== 0) {
        return failWithLogs(`workload exited with code ${state.exitCode}${EXIT_MEANING[state.exitCode] ? ` (${EXIT_MEANING[state.exitCode]})` : ""}`);
      }
      if (!st.result) return failWithLogs("workload exited 0 without reporting a result");
      return collect(ctx, run, stageRow, handle, st.result, adapter);
    }

    if (ctx.signal.aborted) return { status: "released" };
    if (now - lastCancelCheck >= 1000) {
      lastCancelCheck = now;
      const current = await findRunById(ctx.db, run.id);
      if (!current || current.status === "cancelled") {
        await ctx.executor.cancel(handle);
        return { status: "cancelled" };
      }
    }
    if (now - started > timeoutSeconds * 1000) {
      await ctx.executor.cancel(handle);
      return failWithLogs(`timed out after ${timeoutSeconds}s (stage timeout)`);
    }
    if (now - st.lastEventAt > ctx.options.heartbeatTimeoutS * 1000 && ctx.executor.kind === "kubernetes") {
      // Remote workloads heartbeat through the ingest API into Postgres, not through readEvents.
      const beat = (await findStageRun(ctx.db, run.id, stageRow.stage, stageRow.attempt))?.heartbeatAt?.getTime() ?? 0;
      if (beat > st.lastEventAt) st.lastEventAt = beat;
    }
    if (now - st.lastEventAt > ctx.options.heartbeatTimeoutS * 1000) {
      await ctx.executor.cancel(handle);
      return failWithLogs(`no heartbeat for ${Math.round((now - st.lastEventAt) / 1000)}s (limit ${ctx.options.heartbeatTimeoutS}s); workload stopped`);
    }
    await new Promise((r) => setTimeout(r, ctx.options.pollMs));
  }
}

interface TEvalReport {
  metrics: Record<string, number>;
  split?: string;
  samples?: { prompt: string; reference: string; prediction: string; scores: Record<string, number> }[];
}

async function collect(ctx: TEngineContext, run: TRunRow, stageRow: TStageRow, handle: TWorkloadHandle, result: Record<string, unknown>, adapter?: TEvaluatedAdapter): Promise<TStageOutcome> {
  const { event: _event, ...payload } = result;
  if (stageRow.stage === "train") {
    if (typeof payload.adapterDir !== "string") return { status: "failed", reason: "training finished without an adapter (result has no adapterDir)" };
    return { status: "succeeded", result: payload };
  }
  if (!adapter) return { status: "failed", reason: "evaluation finished without a measured adapter" };
  // The adapter must still be the one measured at launch: registration binds to this digest.
  const after = await measureDirectory(ctx, adapter.uri);
  if (after && !after.ok) return { status: "failed", reason: `the evaluated adapter can no longer be verified: ${after.reason}` };
  if (after && after.sha256 !== adapter.sha256) return { status: "failed", reason: `the adapter changed during evaluation: sha256 ${adapter.sha256} at launch, ${after.sha256} now` };
  const text = await ctx.executor.readOutputFile(handle, "eval_report.json");
  if (!text) return { status: "failed", reason: "evaluation finished without eval_report.json" };
  let report: TEvalReport;
  try {
    report = JSON.parse(text) as TEvalReport;
  } catch (error) {
    return { status: "failed", reason: `eval_report.json is not valid JSON: ${(error as Error).message}` };
  }
  const metrics = Object.fromEntries(Object.entries(report.metrics ?? {}).filter(([, v]) => typeof v === "number" && Number.isFinite(v)));
  if (Object.keys(metrics).length === 0) return { status: "failed", reason: "eval_report.json reports no metrics" };
  const split = report.split ?? "test";
  await upsertEvalResults(ctx.db, run.id, split, metrics);
  await insertEvalSamples(
    ctx.db,
    run.id,
    (report.samples ?? []).map((s, index) => ({ index, prompt: s.prompt, reference: s.reference, prediction: s.prediction, scores: s.scores as Prisma.InputJsonValue })),
  );
  return { status: "succeeded", result: { metrics, split, numSamples: report.samples?.length ?? 0, adapter: { ...adapter } } };
}
