// Release stage policy: how one environment of a release starts, rolls out, soaks and is approved. The pipeline spec
// may set it per environment (`deploy.stages.<env>`); every field has a default that depends on the environment's tier,
// so specs written before releases existed stay valid and behave as they did for their first environment.
import { z } from "zod";

export const RELEASE_ROLES = ["viewer", "engineer", "approver", "admin"] as const;
export type TReleaseRole = (typeof RELEASE_ROLES)[number];

export const ZStageApprovalInput = z.object({
  /** Distinct eligible approvals needed before the stage may start (0: none). */
  required: z.number().int().min(0).max(10).optional(),
  /** Minimum project role of an approver. */
  role: z.enum(["engineer", "approver", "admin"]).optional(),
  /** When true the run's requester, the git pusher and the spec's last editor may not approve. */
  separationOfDuties: z.boolean().optional(),
});

export const ZStageSloInput = z.object({
  p99LatencyMs: z.number().positive().optional(),
  ttftP95Ms: z.number().positive().optional(),
  maxErrorRate: z.number().min(0, "must be in [0, 1]").max(1, "must be in [0, 1]").optional(),
  /** Requests the new version must serve during the soak before a breach counts (and before the soak may pass). */
  minRequests: z.number().int().min(0).max(1_000_000).optional(),
});

/** What `deploy.stages.<environment>` accepts; everything optional. */
export const ZReleaseStagePolicyInput = z.object({
  start: z.enum(["auto", "manual"]).optional(),
  strategy: z.enum(["canary", "blue_green", "ab"]).optional(),
  soakSeconds: z.number().int().min(0).max(7 * 86_400).optional(),
  slo: ZStageSloInput.optional(),
  approval: ZStageApprovalInput.optional(),
});
export type TReleaseStagePolicyInput = z.infer<typeof ZReleaseStagePolicyInput>;

export interface TReleaseStagePolicy {
  start: "auto" | "manual";
  strategy: "canary" | "blue_green" | "ab";
  soakSeconds: number;
  slo: { p99LatencyMs: number; ttftP95Ms: number; maxErrorRate: number; minRequests: number };
  approval: { required: number; role: "engineer" | "approver" | "admin"; separationOfDuties: boolean };
}

export interface TStageEnvironmentLike {
  name: string;
  tier: "dev" | "staging" | "prod";
  requiresApproval: boolean;
}

export interface TDeployDefaults {
  strategy: "canary" | "blue_green" | "ab";
  slo: { p99LatencyMs: number; ttftP95Ms: number; maxErrorRate: number };
  canary: { minRequests: number };
  stages?: Record<string, TReleaseStagePolicyInput> | undefined;
}

/** Soak before the next environment may start, by tier, when the spec does not say. */
export const DEFAULT_SOAK_SECONDS: Record<TStageEnvironmentLike["tier"], number> = { dev: 0, staging: 300, prod: 0 };

/**
 * The resolved policy of one environment's stage. Defaults: automatic start, the deploy spec's strategy and SLOs;
 * prod (or any environment marked requiresApproval) needs 1 approval by an approver who is not the requester, the
 * pusher or the spec's last editor. An explicit `approval.required` below the environment's requirement is raised
 * to 1: a spec cannot switch off the approval an admin put on the environment.
 */
export function resolveStagePolicy(deploy: TDeployDefaults, env: TStageEnvironmentLike): TReleaseStagePolicy {
  const given = deploy.stages?.[env.name] ?? {};
  const gated = env.tier === "prod" || env.requiresApproval;
  const requiredDefault = gated ? 1 : 0;
  let required = given.approval?.required ?? requiredDefault;
  if (env.requiresApproval && required < 1) required = 1;
  return {
    start: given.start ?? "auto",
    strategy: given.strategy ?? deploy.strategy,
    soakSeconds: given.soakSeconds ?? DEFAULT_SOAK_SECONDS[env.tier],
    slo: {
      p99LatencyMs: given.slo?.p99LatencyMs ?? deploy.slo.p99LatencyMs,
      ttftP95Ms: given.slo?.ttftP95Ms ?? deploy.slo.ttftP95Ms,
      maxErrorRate: given.slo?.maxErrorRate ?? deploy.slo.maxErrorRate,
      minRequests: given.slo?.minRequests ?? Math.max(1, deploy.canary.minRequests),
    },
    approval: {
      required,
      role: given.approval?.role ?? "approver",
      separationOfDuties: given.approval?.separationOfDuties ?? true,
    },
  };
}
