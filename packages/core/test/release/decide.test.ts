import { describe, expect, it } from "vitest";
import {
  approvalEligibility,
  decideStage,
  NO_HEALTHY_VERSION,
  resolveSpec,
  resolveStagePolicy,
  soakRemainingSeconds,
  type TStageInput,
} from "../../src/index.ts";

const deploy = { strategy: "canary" as const, slo: { p99LatencyMs: 2000, ttftP95Ms: 800, maxErrorRate: 0.01 }, canary: { minRequests: 10 } };
const dev = { name: "dev", tier: "dev" as const, requiresApproval: false };
const staging = { name: "staging", tier: "staging" as const, requiresApproval: false };
const prod = { name: "prod", tier: "prod" as const, requiresApproval: false };

function stage(over: Partial<TStageInput> = {}): TStageInput {
  return {
    name: "prod",
    state: "pending",
    reason: null,
    policy: resolveStagePolicy(deploy, prod),
    frozen: null,
    promoteRequested: false,
    approvals: { approved: 0, rejected: null },
    deployment: null,
    soakStartedAt: null,
    soak: null,
    ...over,
  };
}
const now = new Date("2026-11-30T12:00:00Z");

describe("resolveStagePolicy", () => {
  it("prod needs one approver who is not the requester; dev and staging none; staging soaks", () => {
    expect(resolveStagePolicy(deploy, prod).approval).toEqual({ required: 1, role: "approver", separationOfDuties: true });
    expect(resolveStagePolicy(deploy, dev).approval.required).toBe(0);
    expect(resolveStagePolicy(deploy, staging).soakSeconds).toBe(300);
    expect(resolveStagePolicy(deploy, dev).start).toBe("auto");
  });
  it("takes the spec's per-environment policy, but never below the environment's own approval requirement", () => {
    const p = resolveStagePolicy({ ...deploy, stages: { staging: { start: "manual", strategy: "blue_green", soakSeconds: 5, approval: { required: 0 } } } }, { ...staging, requiresApproval: true });
    expect(p).toMatchObject({ start: "manual", strategy: "blue_green", soakSeconds: 5, approval: { required: 1 } });
  });
  it("old specs stay valid; a stage for an unknown environment is refused with its path", () => {
    const base = { name: "p", model: { name: "m", baseModel: "/m" }, dataset: { name: "d", version: "v1" } };
    expect(resolveSpec({ ...base, deploy: { endpointName: "e", environments: ["prod"] } }).ok).toBe(true);
    const bad = resolveSpec({ ...base, deploy: { endpointName: "e", environments: ["prod"], stages: { qa: { soakSeconds: 1 } } } });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.issues[0]!.path).toBe("deploy.stages.qa");
  });
});

describe("decideStage", () => {
  it("waits for the previous environment, then asks for approval, then starts", () => {
    expect(decideStage(stage(), { name: "staging", state: "soaking" }, now).action).toBe("none");
    expect(decideStage(stage(), { name: "staging", state: "promoted" }, now).action).toBe("await_approval");
    expect(decideStage(stage({ state: "awaiting_approval", approvals: { approved: 1, rejected: null } }), { name: "staging", state: "promoted" }, now).action).toBe("start");
  });
  it("a frozen environment blocks the start, and unblocks when the freeze lifts", () => {
    const frozen = decideStage(stage({ approvals: { approved: 1, rejected: null }, frozen: { reason: "holiday" } }), null, now);
    expect(frozen).toEqual({ action: "block", reason: "environment prod is frozen: holiday" });
    expect(decideStage(stage({ state: "blocked", reason: frozen.reason!, approvals: { approved: 1, rejected: null } }), null, now).action).toBe("start");
  });
  it("a manual stage waits for a promote", () => {
    const s = stage({ policy: { ...resolveStagePolicy(deploy, dev), start: "manual" } });
    expect(decideStage(s, { name: "dev", state: "promoted" }, now).action).toBe("wait");
    expect(decideStage({ ...s, promoteRequested: true }, { name: "dev", state: "promoted" }, now).action).toBe("start");
  });
  it("a rejection blocks for good; a rolled back previous environment blocks the next", () => {
    const r = decideStage(stage({ state: "awaiting_approval", approvals: { approved: 0, rejected: { by: "a@x", comment: "no" } } }), null, now);
    expect(r).toEqual({ action: "block", reason: "approval rejected by a@x: no" });
    expect(decideStage(stage(), { name: "staging", state: "rolled_back" }, now)).toEqual({ action: "block", reason: "staging is rolled back" });
  });
  it("follows the deployment: promoted → soak (or live), rolled back without a previous version → no healthy version", () => {
    const s = stage({ state: "rolling_out", policy: resolveStagePolicy(deploy, staging) });
    expect(decideStage({ ...s, deployment: { state: "progressing", reason: null, hadBase: true } }, null, now).action).toBe("none");
    expect(decideStage({ ...s, deployment: { state: "promoted", reason: null, hadBase: true } }, null, now).action).toBe("soak");
    expect(decideStage(stage({ state: "rolling_out", deployment: { state: "promoted", reason: null, hadBase: true } }), null, now).action).toBe("promote");
    const first = decideStage({ ...s, deployment: { state: "rolled_back", reason: "ttft_p95_ms 2600 > 800", hadBase: false } }, null, now);
    expect(first).toEqual({ action: "rolled_back", reason: `${NO_HEALTHY_VERSION} (ttft_p95_ms 2600 > 800)` });
  });
  it("soaking: a breach with enough requests rolls back; the soak passes only after its time and with enough requests", () => {
    const policy = { ...resolveStagePolicy(deploy, staging), soakSeconds: 60 };
    const s = stage({ state: "soaking", policy, soakStartedAt: new Date(now.getTime() - 30_000) });
    const healthy = { requests: 50, p99LatencyMs: 100, ttftP95Ms: 50, errorRate: 0 };
    expect(decideStage({ ...s, soak: healthy }, null, now).action).toBe("none");
    expect(soakRemainingSeconds(s, now)).toBe(30);
    expect(decideStage({ ...s, soak: { ...healthy, ttftP95Ms: 2500 } }, null, now).action).toBe("rollback_soak");
    expect(decideStage({ ...s, soak: { ...healthy, ttftP95Ms: 2500, requests: 3 } }, null, now).action).toBe("none");
    const done = { ...s, soakStartedAt: new Date(now.getTime() - 61_000) };
    expect(decideStage({ ...done, soak: healthy }, null, now).action).toBe("promote");
    expect(decideStage({ ...done, soak: { ...healthy, requests: 2 } }, null, now).action).toBe("wait");
  });
});

describe("approvalEligibility", () => {
  const policy = resolveStagePolicy(deploy, prod).approval;
  const duties = { requesterId: "u-req", pusherId: null, pusherIdentity: "Pusher@Example.com", specEditorId: "u-edit" };
  it("refuses the requester, the pusher (matched by e-mail), the spec editor and a too-low role, each with a reason", () => {
    expect(approvalEligibility(policy, { userId: "u-req", email: "r@x", role: "approver" }, duties)).toMatchObject({ ok: false, reason: expect.stringMatching(/requested this run/) });
    expect(approvalEligibility(policy, { userId: "u-p", email: "pusher@example.com", role: "admin" }, duties)).toMatchObject({ ok: false, reason: expect.stringMatching(/pushed the commit/) });
    expect(approvalEligibility(policy, { userId: "u-edit", email: "e@x", role: "approver" }, duties)).toMatchObject({ ok: false, reason: expect.stringMatching(/spec/) });
    expect(approvalEligibility(policy, { userId: "u-eng", email: "n@x", role: "engineer" }, duties)).toMatchObject({ ok: false, reason: expect.stringMatching(/approver role/) });
    expect(approvalEligibility(policy, { userId: "u-ok", email: "ok@x", role: "approver" }, duties)).toEqual({ ok: true });
    expect(approvalEligibility(policy, { userId: "u-ok", email: "ok@x", role: "approver" }, duties, ["u-ok"]).ok).toBe(false);
    expect(approvalEligibility({ ...policy, separationOfDuties: false }, { userId: "u-req", email: "r@x", role: "approver" }, duties)).toEqual({ ok: true });
  });
});
