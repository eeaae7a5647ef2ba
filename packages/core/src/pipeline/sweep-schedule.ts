// Sweep scheduling as pure decisions. A sweep's points are fixed when it is created; point i runs as one sibling run
// whose idempotency key is sweepPointKey(sweep, i). Which points to trigger next is derived from the runs Postgres
// holds (never from memory), so a crashed worker, a duplicate call or two workers racing decide the same thing, and
// triggering twice with the same key yields the same run.
import { z } from "zod";
import { ZSweepSpec } from "./spec.ts";
import type { TRunStatus } from "./run-state-machine.ts";
import { TERMINAL_STATUSES } from "./run-state-machine.ts";

export const MAX_SWEEP_CONCURRENCY = 16;

/** What creating a sweep takes (REST body, CLI, dashboard form): the spec's sweep block plus a concurrency limit. */
export const ZSweepCreate = z
  .object({
    name: z.string().trim().min(1).max(120).optional(),
    concurrency: z.number().int().min(1).max(MAX_SWEEP_CONCURRENCY).default(2),
  })
  .and(ZSweepSpec);
export type TSweepCreate = z.infer<typeof ZSweepCreate>;

export function sweepPointKey(sweepId: string, index: number): string {
  return `sweep:${sweepId}:${index}`;
}

/** The point index an idempotency key names, or null when it is not a point of this sweep. */
export function sweepPointIndex(sweepId: string, key: string | null | undefined): number | null {
  const prefix = `sweep:${sweepId}:`;
  if (!key?.startsWith(prefix)) return null;
  const rest = key.slice(prefix.length);
  return /^\d{1,6}$/.test(rest) ? Number(rest) : null;
}

export interface TSweepPointRun {
  index: number;
  status: TRunStatus;
}

export interface TSweepStep {
  /** Point indexes to trigger now, lowest first; never more than the free concurrency slots. */
  trigger: number[];
  /** Every point has a run and every run is terminal: the sweep is over. */
  finished: boolean;
  active: number;
}

/**
 * Next step of a running sweep: fill free slots (concurrency minus non-terminal runs) with the lowest untriggered
 * points. A run of an unknown point index (a key outside 0..pointCount-1) is ignored but still counts as active so
 * the limit holds whatever Postgres contains.
 */
export function decideSweepStep(input: { pointCount: number; concurrency: number; runs: readonly TSweepPointRun[]; cancelled?: boolean }): TSweepStep {
  const active = input.runs.filter((r) => !TERMINAL_STATUSES.includes(r.status)).length;
  const triggered = new Set(input.runs.map((r) => r.index));
  const untriggered: number[] = [];
  for (let i = 0; i < input.pointCount; i++) if (!triggered.has(i)) untriggered.push(i);
  if (input.cancelled) return { trigger: [], finished: active === 0, active };
  const free = Math.max(0, input.concurrency - active);
  const trigger = untriggered.slice(0, free);
  return { trigger, finished: untriggered.length === 0 && active === 0, active };
}
