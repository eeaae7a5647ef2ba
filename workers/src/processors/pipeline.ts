import { parseJob, QUEUE_NAMES } from "@loraplane/queue";
import { reconcileRun } from "../engine/reconcile.ts";
import { processStageJob } from "../engine/stage-runner.ts";
import type { TProcessorRegistration } from "./types.ts";

export const pipelineProcessors: TProcessorRegistration[] = [
  { queue: QUEUE_NAMES.stages, process: (ctx, job) => processStageJob(ctx, parseJob(QUEUE_NAMES.stages, job)) },
  // Nudges are cheap database checks; run them alongside long stage jobs without taking their slots.
  { queue: QUEUE_NAMES.runs, concurrency: 8, process: (ctx, job) => reconcileRun(ctx, parseJob(QUEUE_NAMES.runs, job).runId) },
];
