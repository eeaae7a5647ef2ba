// The pipeline spec. Field names and defaults mirror gpu-runtime/loraplane_runtime/config.py, which reads the resolved
// spec as the job's `spec`; change both together.
import { z } from "zod";
import { sweepablePathProblem } from "./sweepable.ts";
import { ZReleaseStagePolicyInput } from "../release/policy.ts";

/** Metrics the evaluation container can compute (`spec.eval.metrics`); "safety" yields safety_pass_rate + refusal_rate. */
export const EVAL_METRICS = ["rouge_l", "bleu", "exact_match", "accuracy", "f1", "safety"] as const;
/** Metrics a threshold may name. All are fractions in [0, 1]. */
export const KNOWN_METRICS = [
  "rouge_l",
  "bleu",
  "exact_match",
  "accuracy",
  "f1",
  "safety_pass_rate",
  "refusal_rate",
  "human_review_pass_rate",
] as const;
export type TKnownMetric = (typeof KNOWN_METRICS)[number];

/** Which entry of eval.metrics produces a threshold metric (null: produced by human review, not the container). */
export const METRIC_SOURCE: Record<TKnownMetric, (typeof EVAL_METRICS)[number] | null> = {
  rouge_l: "rouge_l",
  bleu: "bleu",
  exact_match: "exact_match",
  accuracy: "accuracy",
  f1: "f1",
  safety_pass_rate: "safety",
  refusal_rate: "safety",
  human_review_pass_rate: null,
};

const required = (what: string) => ({ error: (issue: { input?: unknown }) => (issue.input === undefined ? `${what} is required` : undefined) });
const name = (what: string) =>
  z
    .string(required(what))
    .min(1, `${what} must not be empty`)
    .max(100)
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, `${what} may contain letters, digits, '.', '_' and '-' only`);
const positiveInt = z.number().int().positive();
const fraction = z.number().min(0, "must be in [0, 1]").max(1, "must be in [0, 1]");
// Kubernetes quantities ("4", "500m", "32Gi").
const quantity = z.string().regex(/^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/, "must be a Kubernetes quantity like 4, 500m or 32Gi");

export const ZLoraSpec = z.object({
  r: positiveInt.max(1024).default(16),
  alpha: z.number().positive().default(32),
  dropout: z.number().min(0).lt(1, "must be in [0, 1)").default(0.05),
  targetModules: z
    .array(z.string().min(1))
    .min(1, "must list at least one module")
    .default(["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]),
});

export const ZTrainingSpec = z
  .object({
    lora: ZLoraSpec.default(() => ZLoraSpec.parse({})),
    learningRate: z.number().positive("must be > 0").max(1, "must be <= 1").default(2e-4),
    epochs: z.number().positive().max(1000).optional(),
    maxSteps: positiveInt.optional(),
    batchSize: positiveInt.max(4096).default(8),
    gradientAccumulation: positiveInt.max(1024).default(1),
    maxSeqLength: positiveInt.max(1_048_576).default(1024),
    packing: z.boolean().default(false),
    warmupRatio: z.number().min(0).lt(1, "must be in [0, 1)").default(0.03),
    scheduler: z.enum(["cosine", "linear", "constant"]).default("cosine"),
    seed: z.number().int().min(0).default(42),
    precision: z.enum(["auto", "fp32", "bf16", "fp16"]).default("auto"),
    /** "auto" (gpu-runtime): on on GPU for base models above a measured size (see gpu-runtime/README.md). */
    gradientCheckpointing: z.union([z.literal("auto"), z.boolean()]).default("auto"),
    checkpointEverySteps: positiveInt.default(200),
    promptTemplate: z.enum(["auto", "alpaca", "chat"]).default("auto"),
    logEverySteps: positiveInt.default(10),
    /** transformers attn_implementation for train/eval (gpu-runtime). */
    attnImplementation: z.enum(["sdpa", "eager", "flex_attention", "flash_attention_2"]).default("sdpa"),
    /** Run Python shipped inside the base model folder; only for a folder you have audited. */
    trustRemoteCode: z.boolean().default(false),
  })
  .transform((t) => (t.epochs === undefined && t.maxSteps === undefined ? { ...t, epochs: 1 } : t));

const ZToleration = z.object({
  key: z.string().optional(),
  operator: z.enum(["Exists", "Equal"]).default("Equal"),
  value: z.string().optional(),
  effect: z.enum(["NoSchedule", "PreferNoSchedule", "NoExecute"]).optional(),
});

export const ZResourcesSpec = z.object({
  gpus: z.number().int().min(0).max(64).default(1),
  gpuType: z.string().min(1).optional(),
  cpu: quantity.default("4"),
  memory: quantity.default("32Gi"),
  nodeSelector: z.record(z.string(), z.string()).default({}),
  tolerations: z.array(ZToleration).default([]),
  spot: z.boolean().default(false),
});

export const ZDistributedSpec = z.object({
  nprocPerNode: positiveInt.max(64).default(1),
  nnodes: positiveInt.max(256).default(1),
  strategy: z.enum(["ddp", "fsdp"]).default("ddp"),
});

export const ZThreshold = z.object({
  metric: z.enum(KNOWN_METRICS, { error: `must be one of ${KNOWN_METRICS.join(", ")}` }),
  comparator: z.enum([">=", ">", "<=", "<"]).default(">="),
  value: z.number(required("value")).min(0, "must be in [0, 1]").max(1, "must be in [0, 1]"),
  blocking: z.boolean().default(true),
});
export type TThreshold = z.infer<typeof ZThreshold>;

export const ZEvalSpec = z.object({
  split: z.enum(["test", "validation", "train"]).default("test"),
  maxNewTokens: positiveInt.max(32_768).default(64),
  batchSize: positiveInt.max(4096).default(16),
  maxSamples: positiveInt.optional(),
  metrics: z
    .array(z.enum(EVAL_METRICS, { error: `must be one of ${EVAL_METRICS.join(", ")}` }))
    .min(1)
    .default(["rouge_l", "bleu", "exact_match", "f1", "safety"]),
  thresholds: z.array(ZThreshold).default([]),
  safety: z
    .object({
      blocklist: z.array(z.string().min(1)).default([]),
      refusalPatterns: z.array(z.string().min(1)).optional(),
    })
    .default({ blocklist: [] }),
  requireHumanReviewPassRate: fraction.optional(),
  /** BLEU/ROUGE-L/F1 tokenizer: auto-detected from the references (Chinese -> zh, Japanese/Korean -> char). */
  metricTokenizer: z.enum(["auto", "13a", "zh", "char", "intl"]).default("auto"),
  /** Generation stops at (and the prediction is cut before) the first of these strings. */
  stopStrings: z.array(z.string().min(1)).max(16).default([]),
  /** Drop <think>...</think> reasoning from predictions before scoring. */
  stripReasoning: z.boolean().default(false),
});

/**
 * Human review that gates the run: after eval the run waits in `awaiting_review` until `minReviewed` samples are
 * marked good/bad, then the gate evaluates (thresholds on human_review_pass_rate included). `minReviewed` is a count
 * (an integer >= 1, capped at the number of samples the evaluation recorded), a fraction of the samples in (0, 1), or
 * "all".
 */
export const ZReviewSpec = z.object({
  required: z.boolean().default(false),
  minReviewed: z
    .union([z.literal("all"), z.number().positive("must be > 0")])
    .refine((v) => v === "all" || Number.isInteger(v) || v < 1, "must be an integer count >= 1, a fraction in (0, 1) or \"all\"")
    .default(1),
});
export type TReviewSpec = z.infer<typeof ZReviewSpec>;

export const ZGateSpec = z.object({ review: ZReviewSpec.optional() });

export const ZDeploySpec = z.object({
  endpointName: name("deploy.endpointName"),
  environments: z.array(name("environment name")).min(1, "must list at least one environment").default(["staging"]),
  strategy: z.enum(["canary", "blue_green", "ab"]).default("canary"),
  canary: z
    .object({
      steps: z
        .array(z.number().int().min(1).max(10_000))
        .min(1)
        .default([500, 2500, 5000, 10_000])
        .refine((s) => s.every((v, i) => i === 0 || v > s[i - 1]!), "steps must increase")
        .refine((s) => s[s.length - 1] === 10_000, "the last step must be 10000 (100%)"),
      analysisWindowSeconds: positiveInt.max(86_400).default(60),
      minRequests: z.number().int().min(0).default(50),
    })
    .default(() => ({ steps: [500, 2500, 5000, 10_000], analysisWindowSeconds: 60, minRequests: 50 })),
  slo: z
    .object({
      p99LatencyMs: z.number().positive().default(2000),
      ttftP95Ms: z.number().positive().default(800),
      maxErrorRate: fraction.default(0.01),
      /**
       * Canary-versus-stable checks (defaults in core/rollout/policy.ts: P99 at most 1.5× stable's or 50 ms above it,
       * error rate at most 2 points above): loosen them where a fresh serving process is measurably slower at first.
       */
      vsStable: z
        .object({
          maxP99Ratio: z.number().min(1).optional(),
          minP99DiffMs: z.number().min(0).optional(),
          maxErrorRateIncrease: fraction.optional(),
        })
        .strict()
        .optional(),
    })
    .default({ p99LatencyMs: 2000, ttftP95Ms: 800, maxErrorRate: 0.01 }),
  autoPromote: z.boolean().default(true),
  /**
   * Shadow evaluation before the canary (canary strategy): the gateway mirrors `fraction` of live requests to the
   * candidate, scores its answers against the stable's and starts the canary only if the gate passes.
   */
  shadow: z
    .object({
      fraction: z.number().gt(0).max(1).optional(),
      minSamples: z.number().int().min(1).max(10_000).optional(),
      minAgreement: fraction.optional(),
      maxRefusalRate: fraction.optional(),
      maxLatencyP99Ms: z.number().positive().optional(),
      maxErrorRate: fraction.optional(),
      maxDurationSeconds: positiveInt.optional(),
      /** Also score each pair with the LLM judge the workers are configured with; mean score 1-10 at least minScore. */
      judge: z
        .object({ minScore: z.number().min(1, "must be in [1, 10]").max(10, "must be in [1, 10]") })
        .strict()
        .optional(),
    })
    .strict()
    .optional(),
  /** A/B options (strategy ab): adaptive allocation by Thompson sampling. */
  ab: z
    .object({
      allocation: z
        .object({
          mode: z.enum(["fixed", "thompson"]).optional(),
          metric: z.enum(["success", "feedback"]).optional(),
          floorBps: z.number().int().min(0).max(5_000).optional(),
          confidence: z.number().gt(0.5).lt(1).optional(),
        })
        .strict()
        .optional(),
    })
    .strict()
    .optional(),
  /** Per-environment release policy (start, strategy, soak, SLOs, approval); see core/release/policy.ts for defaults. */
  stages: z.record(z.string(), ZReleaseStagePolicyInput).optional(),
});

/** Sweep: a grid of values and/or random ranges for spec fields, addressed by dotted path ("training.learningRate"). */
export const ZSweepSpec = z
  .object({
    grid: z.record(z.string(), z.array(z.union([z.number(), z.string(), z.boolean()])).min(1)).default({}),
    random: z
      .record(
        z.string(),
        z.object({
          min: z.number(),
          max: z.number(),
          scale: z.enum(["linear", "log"]).default("linear"),
          integer: z.boolean().default(false),
        }),
      )
      .default({}),
    samples: positiveInt.max(256).default(4),
    seed: z.number().int().default(0),
    metric: z.enum(KNOWN_METRICS),
    direction: z.enum(["max", "min"]).default("max"),
    maxRuns: positiveInt.max(256).default(64),
  })
  .superRefine((s, ctx) => {
    if (Object.keys(s.grid).length === 0 && Object.keys(s.random).length === 0) {
      ctx.addIssue({ code: "custom", message: "a sweep needs at least one grid or random parameter", path: ["grid"] });
    }
    // Only allowlisted paths (never __proto__/constructor/prototype): refused when the spec is saved, not at expansion.
    for (const [where, keys] of [["grid", Object.keys(s.grid)], ["random", Object.keys(s.random)]] as const) {
      for (const key of keys) {
        const problem = sweepablePathProblem(key);
        if (problem) ctx.addIssue({ code: "custom", message: problem, path: [where, key] });
      }
    }
    for (const [path, r] of Object.entries(s.random)) {
      if (!(r.max > r.min)) ctx.addIssue({ code: "custom", message: "max must be > min", path: ["random", path, "max"] });
      if (r.scale === "log" && r.min <= 0) ctx.addIssue({ code: "custom", message: "log scale needs min > 0", path: ["random", path, "min"] });
    }
  });
export type TSweepSpec = z.infer<typeof ZSweepSpec>;

const ZSpecObject = z.object({
  apiVersion: z.literal("loraplane/v1", { error: 'must be "loraplane/v1"' }).default("loraplane/v1"),
  name: name("name"),
  description: z.string().max(2000).optional(),
  model: z.object(
    {
      name: name("model.name"),
      baseModel: z.string(required("model.baseModel")).min(1, "model.baseModel must not be empty"),
      revision: z.string().min(1).optional(),
    },
    required("model"),
  ),
  dataset: z.object(
    {
      name: name("dataset.name"),
      version: z.string(required("dataset.version")).min(1, "dataset.version must not be empty"),
      format: z.enum(["auto", "alpaca", "chat"]).default("auto"),
    },
    required("dataset"),
  ),
  training: ZTrainingSpec.default(() => ZTrainingSpec.parse({})),
  resources: ZResourcesSpec.default(() => ZResourcesSpec.parse({})),
  distributed: ZDistributedSpec.default(() => ZDistributedSpec.parse({})),
  eval: ZEvalSpec.default(() => ZEvalSpec.parse({})),
  deploy: ZDeploySpec.nullable().default(null),
  timeouts: z
    .object({
      trainSeconds: positiveInt.max(30 * 86_400).default(6 * 3600),
      evalSeconds: positiveInt.max(7 * 86_400).default(3600),
    })
    .default({ trainSeconds: 6 * 3600, evalSeconds: 3600 }),
  sweep: ZSweepSpec.optional(),
  /** Optional so that specs without it resolve exactly as before (the resolved spec is stored on every run). */
  gate: ZGateSpec.optional(),
});

function checkSpec(spec: z.infer<typeof ZSpecObject>, ctx: z.RefinementCtx): void {
  spec.eval.thresholds.forEach((t, i) => {
    const source = METRIC_SOURCE[t.metric];
    if (source && !spec.eval.metrics.includes(source)) {
      ctx.addIssue({
        code: "custom",
        path: ["eval", "thresholds", i, "metric"],
        message: `threshold on ${t.metric} needs "${source}" in eval.metrics`,
      });
    }
  });
  const review = spec.gate?.review;
  if (review?.required && typeof review.minReviewed === "number" && review.minReviewed >= 1 && spec.eval.maxSamples !== undefined && review.minReviewed > spec.eval.maxSamples) {
    ctx.addIssue({
      code: "custom",
      path: ["gate", "review", "minReviewed"],
      message: `minReviewed (${review.minReviewed}) exceeds eval.maxSamples (${spec.eval.maxSamples}): the quota could never be met`,
    });
  }
  for (const envName of Object.keys(spec.deploy?.stages ?? {})) {
    if (!spec.deploy!.environments.includes(envName)) {
      ctx.addIssue({ code: "custom", path: ["deploy", "stages", envName], message: `"${envName}" is not in deploy.environments` });
    }
  }
  const { nprocPerNode, nnodes } = spec.distributed;
  if (nprocPerNode * nnodes > 1 && spec.resources.gpus > 0 && nprocPerNode > spec.resources.gpus) {
    ctx.addIssue({
      code: "custom",
      path: ["distributed", "nprocPerNode"],
      message: `nprocPerNode (${nprocPerNode}) exceeds resources.gpus per node (${spec.resources.gpus})`,
    });
  }
}

/** The fully resolved spec: every default filled in. */
export const ZPipelineSpec = ZSpecObject.superRefine(checkSpec);
export type TPipelineSpec = z.infer<typeof ZPipelineSpec>;
/** What the API accepts: the same schema before defaults. */
export const ZSpecInput = ZPipelineSpec;
export type TSpecInput = z.input<typeof ZPipelineSpec>;

export interface TSpecIssue {
  path: string;
  message: string;
}

export function formatIssuePath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, part) => (typeof part === "number" ? `${acc}[${part}]` : acc ? `${acc}.${String(part)}` : String(part)), "");
}

/** Parses and fills defaults; on failure returns every problem with its dotted field path. */
export function resolveSpec(input: unknown): { ok: true; spec: TPipelineSpec } | { ok: false; issues: TSpecIssue[] } {
  const parsed = ZPipelineSpec.safeParse(input);
  if (parsed.success) return { ok: true, spec: parsed.data };
  return { ok: false, issues: parsed.error.issues.map((i) => ({ path: formatIssuePath(i.path), message: i.message })) };
}
