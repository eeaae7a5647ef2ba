import type { Job } from "bullmq";
import type { TEngineContext } from "../engine/context.ts";

export interface TProcessorRegistration {
  queue: string;
  /** Jobs of this queue processed at once by one worker process; default: WORKER_CONCURRENCY. */
  concurrency?: number;
  /** Validates the payload (the queue contract's parser) and handles it; the return value is logged. */
  process(ctx: TEngineContext, job: Job): Promise<unknown>;
  /** Runs once when the worker starts (job schedulers and similar). */
  onStart?(ctx: TEngineContext): Promise<void>;
}
