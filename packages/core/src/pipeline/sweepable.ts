// Which spec paths a sweep or a run's `params` may set. Its own module so that spec.ts (ZSweepSpec) and sweep.ts
// (applyParams, expandSweep) share it without importing each other.

/**
 * The only spec paths a sweep or a run's `params` may set: the scalar training settings and the eval generation
 * settings. An allowlist (not a pattern) so that no key can walk into `__proto__`, `constructor` or `prototype`.
 */
export const SWEEPABLE_PATHS: readonly string[] = Object.freeze([
  "training.lora.r",
  "training.lora.alpha",
  "training.lora.dropout",
  "training.learningRate",
  "training.epochs",
  "training.maxSteps",
  "training.batchSize",
  "training.gradientAccumulation",
  "training.maxSeqLength",
  "training.packing",
  "training.warmupRatio",
  "training.scheduler",
  "training.seed",
  "training.precision",
  "training.gradientCheckpointing",
  "training.checkpointEverySteps",
  "training.promptTemplate",
  "training.logEverySteps",
  "eval.maxNewTokens",
  "eval.batchSize",
  "eval.maxSamples",
]);
const SWEEPABLE = new Set(SWEEPABLE_PATHS);
const FORBIDDEN_SEGMENTS = new Set(["__proto__", "constructor", "prototype"]);

/** Why `path` may not be swept or overridden (null: it may). */
export function sweepablePathProblem(path: string): string | null {
  const bad = path.split(".").find((part) => FORBIDDEN_SEGMENTS.has(part));
  if (bad !== undefined) return `"${path}" is not allowed: the segment "${bad}" is refused`;
  if (!SWEEPABLE.has(path)) return `"${path}" cannot be overridden: it is not a sweepable training or eval setting`;
  return null;
}
