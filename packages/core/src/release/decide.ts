// The release state machine as pure functions: what the release controller does next with one environment's stage,
// and who may approve it. The controller (packages/services/src/releases) loads the inputs and applies the answer.
import { RELEASE_ROLES, type TReleaseRole, type TReleaseStagePolicy } from "./policy.ts";

export const RELEASE_STAGE_STATES = ["pending", "awaiting_approval", "rolling_out", "soaking", "promoted", "rolled_back", "blocked", "failed"] as const;
export type TReleaseStageState = (typeof RELEASE_STAGE_STATES)[number];
export const TERMINAL_STAGE_STATES: readonly TReleaseStageState[] = ["promoted", "rolled_back", "failed"];

/** The reason a stage shows when its first version failed and there is nothing to fall back to. */
export const NO_HEALTHY_VERSION = "no healthy version: first release failed its SLOs";

export interface TStageInput {
  name: string;
  state: TReleaseStageState;
  reason: string | null;
  policy: TReleaseStagePolicy;
  frozen: { reason: string } | null;
  promoteRequested: boolean;
  approvals: { approved: number; rejected: { by: string; comment: string | null } | null };
  /** The stage's deployment (null before it started). `hadBase`: a previous version was serving when it started. */
  deployment: { state: string; reason: string | null; hadBase: boolean } | null;
  /** Since the deployment was promoted (soaking only). */
  soakStartedAt: Date | null;
  /** The new version's SLO figures since the soak started (soaking only). */
  soak: { requests: number; p99LatencyMs: number | null; ttftP95Ms: number | null; errorRate: number } | null;
}

export type TStageDecision =
  | { action: "none"; reason?: string }
  | { action: "wait"; reason: string }
  | { action: "block"; reason: string }
  | { action: "await_approval"; reason: string }
  | { action: "start"; reason: string }
  | { action: "soak"; reason: string }
  | { action: "promote"; reason: string }
  | { action: "rolled_back"; reason: string }
  | { action: "rollback_soak"; reason: string }
  | { action: "fail"; reason: string };

const OPEN_DEPLOYMENT = new Set(["pending", "awaiting_approval", "progressing", "paused"]);

/** SLO breaches of the soak figures against the stage's policy (empty: healthy or no data yet). */
export function soakBreaches(policy: TReleaseStagePolicy, soak: NonNullable<TStageInput["soak"]>): string[] {
  const out: string[] = [];
  if (soak.p99LatencyMs !== null && soak.p99LatencyMs > policy.slo.p99LatencyMs) out.push(`p99 latency ${Math.round(soak.p99LatencyMs)} ms > ${policy.slo.p99LatencyMs} ms`);
  if (soak.ttftP95Ms !== null && soak.ttftP95Ms > policy.slo.ttftP95Ms) out.push(`TTFT p95 ${Math.round(soak.ttftP95Ms)} ms > ${policy.slo.ttftP95Ms} ms`);
  if (soak.errorRate > policy.slo.maxErrorRate) out.push(`error rate ${(soak.errorRate * 100).toFixed(1)}% > ${(policy.slo.maxErrorRate * 100).toFixed(1)}%`);
  return out;
}

/** Seconds of soak left (0 when done or not soaking). */
export function soakRemainingSeconds(stage: Pick<TStageInput, "state" | "policy" | "soakStartedAt">, now: Date): number {
  if (stage.state !== "soaking" || !stage.soakStartedAt) return 0;
  return Math.max(0, Math.ceil(stage.policy.soakSeconds - (now.getTime() - stage.soakStartedAt.getTime()) / 1000));
}

/**
 * The next step for `stage` given the stage before it (null for the first environment). A stage starts only when the
 * previous environment is promoted (its soak passed), the environment is not frozen, a manual stage was promoted by a
 * person, and the approvals are in. Rolling out follows the stage's deployment; soaking checks the SLOs.
 */
export function decideStage(stage: TStageInput, previous: Pick<TStageInput, "name" | "state"> | null, now: Date): TStageDecision {
  switch (stage.state) {
    case "pending":
    case "blocked":
    case "awaiting_approval": {
      if (stage.state === "blocked" && stage.reason?.startsWith("approval rejected")) return { action: "none" };
      if (previous && previous.state !== "promoted") {
        if (previous.state === "rolled_back" || previous.state === "failed" || previous.state === "blocked") {
          const reason = `${previous.name} is ${previous.state.replace("_", " ")}`;
          return stage.state === "blocked" && stage.reason === reason ? { action: "none" } : { action: "block", reason };
        }
        return stage.state === "pending" ? { action: "none" } : { action: "wait", reason: `waiting for ${previous.name}` };
      }
      if (stage.approvals.rejected) {
        const r = stage.approvals.rejected;
        return { action: "block", reason: `approval rejected by ${r.by}${r.comment ? `: ${r.comment}` : ""}` };
      }
      if (stage.frozen) {
        const reason = `environment ${stage.name} is frozen: ${stage.frozen.reason}`;
        return stage.state === "blocked" && stage.reason === reason ? { action: "none" } : { action: "block", reason };
      }
      if (stage.policy.start === "manual" && !stage.promoteRequested) {
        const reason = `waiting for someone to promote to ${stage.name}`;
        return stage.state === "pending" && stage.reason === reason ? { action: "none" } : { action: "wait", reason };
      }
      const { required } = stage.policy.approval;
      if (stage.approvals.approved < required) {
        const reason = `waiting for ${required - stage.approvals.approved} more approval(s) (role ${stage.policy.approval.role}${stage.policy.approval.separationOfDuties ? ", not the requester, pusher or spec editor" : ""})`;
        return stage.state === "awaiting_approval" && stage.reason === reason ? { action: "none" } : { action: "await_approval", reason };
      }
      return { action: "start", reason: required > 0 ? `${stage.approvals.approved} approval(s) in` : previous ? `${previous.name} promoted` : "first environment" };
    }
    case "rolling_out": {
      const d = stage.deployment;
      if (!d || OPEN_DEPLOYMENT.has(d.state)) return { action: "none" };
      if (d.state === "promoted") {
        return stage.policy.soakSeconds > 0 ? { action: "soak", reason: `live; soaking ${stage.policy.soakSeconds} s` } : { action: "promote", reason: "live" };
      }
      const why = d.reason ?? d.state;
      if (!d.hadBase) return { action: "rolled_back", reason: why.startsWith(NO_HEALTHY_VERSION) ? why : `${NO_HEALTHY_VERSION} (${why})` };
      return { action: "rolled_back", reason: `deployment ${d.state.replace("_", " ")}: ${why}` };
    }
    case "soaking": {
      const soak = stage.soak ?? { requests: 0, p99LatencyMs: null, ttftP95Ms: null, errorRate: 0 };
      const min = stage.policy.slo.minRequests;
      const breaches = soakBreaches(stage.policy, soak);
      if (breaches.length > 0 && soak.requests >= min) return { action: "rollback_soak", reason: `SLO breached while soaking: ${breaches.join("; ")}` };
      const started = stage.soakStartedAt ?? now;
      if (now.getTime() - started.getTime() < stage.policy.soakSeconds * 1000) return { action: "none" };
      if (soak.requests < min) {
        const reason = `soak time passed; waiting for ${min} requests to judge the SLOs (${soak.requests} so far)`;
        return stage.reason === reason ? { action: "none" } : { action: "wait", reason };
      }
      return { action: "promote", reason: `soaked ${stage.policy.soakSeconds} s, SLOs held over ${soak.requests} requests` };
    }
    default:
      return { action: "none" };
  }
}

export interface TApproverCandidate {
  userId: string;
  email: string | null;
  /** The candidate's role in the release's project. */
  role: TReleaseRole;
}

/** Who may not approve under separation of duties (ids of users; the pusher also by e-mail when no user matched). */
export interface TDutyHolders {
  requesterId: string | null;
  pusherId: string | null;
  pusherIdentity: string | null;
  specEditorId: string | null;
}

export type TEligibility = { ok: true } | { ok: false; reason: string };

const roleRank = (r: string) => RELEASE_ROLES.indexOf(r as TReleaseRole);

/** Whether `who` may approve a stage with `policy`; the reason says why not, for the 403. */
export function approvalEligibility(
  policy: TReleaseStagePolicy["approval"],
  who: TApproverCandidate,
  duties: TDutyHolders,
  alreadyDecidedBy: readonly string[] = [],
): TEligibility {
  // Separation of duties first: it is the reason a requester needs to hear, whatever their role.
  const sod = policy.separationOfDuties ? dutyConflict(who, duties) : null;
  if (sod) return { ok: false, reason: sod };
  if (roleRank(who.role) < roleRank(policy.role)) return { ok: false, reason: `approving needs the ${policy.role} role in this project (you are ${who.role})` };
  if (alreadyDecidedBy.includes(who.userId)) return { ok: false, reason: "you already decided on this stage; approvals must come from different people" };
  return { ok: true };
}

/** Why `who` may not approve under separation of duties (null: no conflict). */
export function dutyConflict(who: Pick<TApproverCandidate, "userId" | "email">, duties: TDutyHolders): string | null {
  if (duties.requesterId && duties.requesterId === who.userId) return "separation of duties: you requested this run, so you may not approve its release";
  const email = who.email?.toLowerCase() ?? null;
  if ((duties.pusherId && duties.pusherId === who.userId) || (!duties.pusherId && email && duties.pusherIdentity?.toLowerCase() === email)) {
    return "separation of duties: you pushed the commit that triggered this run, so you may not approve its release";
  }
  if (duties.specEditorId && duties.specEditorId === who.userId) {
    return "separation of duties: you last edited this pipeline's spec (its gates and thresholds), so you may not approve its release";
  }
  return null;
}
