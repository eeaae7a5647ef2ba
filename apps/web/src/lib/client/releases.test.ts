import { describe, expect, it } from "vitest";
import { countdown, nextToPromote, stageActions } from "./releases";
import type { TRelease, TReleaseStage } from "./types";

const stage = (position: number, name: string, over: Partial<TReleaseStage> = {}): TReleaseStage => ({
  id: name,
  position,
  environment: { id: name, name, tier: name === "prod" ? "prod" : name === "staging" ? "staging" : "dev", inferenceUrl: null, frozen: null },
  state: "pending",
  reason: null,
  policy: { start: "manual", strategy: "canary", soakSeconds: 0, slo: { p99LatencyMs: 500, ttftP95Ms: 400, maxErrorRate: 0.05, minRequests: 5 }, approval: { required: 0, role: "approver", separationOfDuties: true } },
  soak: null,
  approvals: { required: 0, received: 0, decisions: [], eligibleApprovers: [] },
  promoteRequestedAt: null,
  startedAt: null,
  finishedAt: null,
  deployment: { id: `d-${name}`, state: "promoted", reason: null, strategy: "canary", variants: [] },
  ...over,
});
const release = (stages: TReleaseStage[]): Pick<TRelease, "state" | "stages"> => ({ state: "in_progress", stages });

describe("release stage buttons", () => {
  it("offers Promote only on the next manual environment after a promoted one", () => {
    const r = release([stage(0, "dev", { state: "promoted" }), stage(1, "staging"), stage(2, "prod")]);
    expect(nextToPromote(r)?.id).toBe("staging");
    expect(stageActions(r, r.stages[1]!, { id: "u", canOperate: true })).toEqual(["promote"]);
    expect(stageActions(r, r.stages[2]!, { id: "u", canOperate: true })).toEqual([]);
    expect(stageActions(r, r.stages[1]!, { id: "u", canOperate: false })).toEqual([]);
    expect(stageActions(r, r.stages[0]!, { id: "u", canOperate: true })).toEqual(["rollback"]);
  });

  it("offers Approve / Reject only to an eligible approver, and no promote into a frozen environment", () => {
    const waiting = stage(2, "prod", { state: "awaiting_approval", approvals: { required: 1, received: 0, decisions: [], eligibleApprovers: [{ userId: "grace", email: "g@x", name: "Grace" }] } });
    const r = release([stage(0, "dev", { state: "promoted" }), stage(1, "staging", { state: "promoted" }), waiting]);
    expect(stageActions(r, waiting, { id: "grace", canOperate: false })).toEqual(["approve", "reject"]);
    expect(stageActions(r, waiting, { id: "ada", canOperate: true })).toEqual([]);
    const frozen = release([stage(0, "dev", { state: "promoted" }), stage(1, "staging", { environment: { id: "s", name: "staging", tier: "staging", inferenceUrl: null, frozen: { at: "", reason: "freeze", byId: null } } })]);
    expect(nextToPromote(frozen)).toBeNull();
    expect(countdown(245)).toBe("4:05");
  });
});
