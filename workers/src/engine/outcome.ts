/** What a stage handler reports back to the stage runner. */
export type TStageOutcome =
  | { status: "succeeded"; result?: Record<string, unknown> }
  | { status: "failed"; reason: string }
  /** The gate refused the run: the run ends `blocked`, not `failed`. */
  | { status: "blocked"; reason: string; result?: Record<string, unknown> }
  /** Waiting on a person or another controller (approval, rollout); re-examined on a nudge. */
  | { status: "waiting"; result?: Record<string, unknown> }
  | { status: "cancelled" }
  /** This worker is shutting down: the workload keeps running and another worker re-attaches to it. */
  | { status: "released" };
