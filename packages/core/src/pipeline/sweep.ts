// Hyperparameter sweeps: a spec's `sweep` expands into sibling parameter sets (one run each), and the best sibling
// is picked by the sweep's metric. Expansion is deterministic for a given seed so a re-submitted sweep is identical.
import { z } from "zod";
import { ZPipelineSpec, type TPipelineSpec, type TSweepSpec } from "./spec.ts";
import { sweepablePathProblem } from "./sweepable.ts";
import { seededRandom } from "../stats/random.ts";

export { SWEEPABLE_PATHS, sweepablePathProblem } from "./sweepable.ts";

export type TSweepParams = Record<string, number | string | boolean>;

/** Throws a SweepError (with `path` as given) unless `path` is one of SWEEPABLE_PATHS. */
export function checkSweepablePath(path: string, reportedAs: string = path): void {
  const problem = sweepablePathProblem(path);
  if (problem) throw new SweepError(problem, reportedAs);
}

/** A run's `params` (REST, CLI, sweeps): keys from SWEEPABLE_PATHS only, scalar values. */
export const ZSweepParams = z.record(
  z.string().superRefine((path, ctx) => {
    const problem = sweepablePathProblem(path);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  }),
  z.union([z.number(), z.string(), z.boolean()]),
  // Report the key's own message ("… is not allowed"), not zod's generic "Invalid key in record".
  { error: (issue) => (issue.code === "invalid_key" ? (issue as { issues?: { message: string }[] }).issues?.[0]?.message : undefined) },
);

function cartesian(grid: Record<string, readonly (number | string | boolean)[]>): TSweepParams[] {
  return Object.entries(grid).reduce<TSweepParams[]>(
    (acc, [path, values]) => acc.flatMap((params) => values.map((v) => ({ ...params, [path]: v }))),
    [{}],
  );
}

export class SweepError extends Error {
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(message);
  }
}

/**
 * Grid points × random samples. With only a grid: every grid point. With random ranges: `samples` draws per grid
 * point. Fails when the expansion exceeds maxRuns or names a field that cannot be swept.
 */
export function expandSweep(sweep: TSweepSpec): TSweepParams[] {
  for (const path of [...Object.keys(sweep.grid), ...Object.keys(sweep.random)]) {
    checkSweepablePath(path, `sweep.${path}`);
  }
  const points = cartesian(sweep.grid);
  const randomEntries = Object.entries(sweep.random);
  const draw = seededRandom(sweep.seed);
  const out =
    randomEntries.length === 0
      ? points
      : points.flatMap((p) =>
          Array.from({ length: sweep.samples }, () => {
            const params: TSweepParams = { ...p };
            for (const [path, r] of randomEntries) {
              const u = draw();
              let v = r.scale === "log" ? Math.exp(Math.log(r.min) + u * (Math.log(r.max) - Math.log(r.min))) : r.min + u * (r.max - r.min);
              if (r.integer) v = Math.round(v);
              else v = Number(v.toPrecision(6));
              params[path] = v;
            }
            return params;
          }),
        );
  if (out.length > sweep.maxRuns) throw new SweepError(`sweep expands to ${out.length} runs, more than maxRuns (${sweep.maxRuns})`, "sweep.maxRuns");
  return out;
}

/**
 * Applies dotted-path overrides to a spec and re-validates it, so an override can never produce an invalid run. Only
 * SWEEPABLE_PATHS are accepted, and the walk follows own properties only (never the prototype chain).
 */
export function applyParams(spec: TPipelineSpec, params: TSweepParams): TPipelineSpec {
  const copy = structuredClone(spec) as unknown as Record<string, unknown>;
  for (const path of Object.keys(params)) {
    checkSweepablePath(path);
    const value = params[path];
    if (!["number", "string", "boolean"].includes(typeof value)) throw new SweepError(`"${path}" must be a number, string or boolean`, path);
    const parts = path.split(".");
    let node = copy;
    for (const part of parts.slice(0, -1)) {
      const child = Object.hasOwn(node, part) ? node[part] : undefined;
      if (typeof child !== "object" || child === null || Array.isArray(child)) throw new SweepError(`unknown field "${path}"`, path);
      node = child as Record<string, unknown>;
    }
    Object.defineProperty(node, parts[parts.length - 1]!, { value, enumerable: true, writable: true, configurable: true });
  }
  delete copy.sweep;
  const parsed = ZPipelineSpec.safeParse(copy);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new SweepError(`override makes the spec invalid at ${issue.path.join(".")}: ${issue.message}`, issue.path.join("."));
  }
  return parsed.data;
}

export interface TSweepCandidate {
  runId: string;
  metrics: Readonly<Record<string, number | undefined>>;
}

/** The sibling with the best value of `metric`; siblings that did not report it are ignored. Ties keep the first. */
export function pickBest(candidates: readonly TSweepCandidate[], metric: string, direction: "max" | "min"): { runId: string; value: number } | null {
  let best: { runId: string; value: number } | null = null;
  for (const c of candidates) {
    const v = c.metrics[metric];
    if (typeof v !== "number" || !Number.isFinite(v)) continue;
    if (!best || (direction === "max" ? v > best.value : v < best.value)) best = { runId: c.runId, value: v };
  }
  return best;
}
