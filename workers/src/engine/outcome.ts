import type { DbOrTx } from "@loraplane/db";

/**
 * Writes that belong to the outcome (the gate's verdicts): run inside the stage runner's transaction only when this
 * attempt's compare-and-set wins, so a duplicate job or a racing worker never records them twice.
 */
type TCommit = (tx: DbOrTx) => Promise<void>;

/** What a stage handler reports back to the stage runner. */
export type TStageOutcome =
  | { status: "succeeded"; result?: Record<string, unknown>; commit?: TCommit }
  | { status: "failed"; reason: string }
  /** The gate refused the run: the run ends `blocked`, not `failed`. */
  | { status: "blocked"; reason: string; result?: Record<string, unknown>; commit?: TCommit }
  /** Waiting on a person or another controller (approval, rollout); re-examined on a nudge. */
  | { status: "waiting"; result?: Record<string, unknown> }
  | { status: "cancelled" }
  /** This worker is shutting down: the workload keeps running and another worker re-attaches to it. */
  | { status: "released" };
