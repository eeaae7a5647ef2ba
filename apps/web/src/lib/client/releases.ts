// Which buttons a release stage offers, from its state and the signed-in user's rights.
import type { TRelease, TReleaseStage } from "./types";

export type TStageAction = "promote" | "approve" | "reject" | "rollback";

export const STAGE_LABEL: Record<TReleaseStage["state"], string> = {
  pending: "waiting",
  awaiting_approval: "awaiting approval",
  rolling_out: "rolling out",
  soaking: "soaking",
  promoted: "promoted",
  rolled_back: "rolled back",
  blocked: "blocked",
  failed: "failed",
};

/** The stage a "Promote" would start: the first one not started whose previous environment is promoted. */
export function nextToPromote(release: Pick<TRelease, "state" | "stages">): TReleaseStage | null {
  if (release.state !== "in_progress") return null;
  const stages = [...release.stages].sort((a, b) => a.position - b.position);
  for (const [i, stage] of stages.entries()) {
    if (stage.state !== "pending" && !(stage.state === "blocked" && stage.environment.frozen === null && !stage.reason?.startsWith("approval rejected"))) continue;
    const previous = stages[i - 1];
    if (previous && previous.state !== "promoted") return null;
    if (stage.environment.frozen) return null;
    return stage.policy.start === "manual" && !stage.promoteRequestedAt ? stage : null;
  }
  return null;
}

/** Buttons that fit a stage's state: promote the next environment, approve / reject, roll back this environment. */
export function stageActions(release: Pick<TRelease, "state" | "stages">, stage: TReleaseStage, user: { id: string | undefined; canOperate: boolean }): TStageAction[] {
  const actions: TStageAction[] = [];
  if (user.canOperate && nextToPromote(release)?.id === stage.id) actions.push("promote");
  if (stage.state === "awaiting_approval" && user.id && stage.approvals.eligibleApprovers.some((a) => a.userId === user.id)) actions.push("approve", "reject");
  if (user.canOperate && ["rolling_out", "soaking", "promoted"].includes(stage.state) && stage.deployment) actions.push("rollback");
  return actions;
}

/** "4:05" for a soak countdown. */
export function countdown(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}
