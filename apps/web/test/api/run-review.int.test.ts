// REST for review-gated runs, retry of gate-blocked runs and threshold overrides (issue 15 item 4): roles, 409 with
// the state machine's reason, 400 with field paths, and the OpenAPI document. The engine side (waiting, evaluating
// exactly once) is driven in workers/test/review-gate.int.test.ts.
import { useTestDb } from "@loraplane/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildOpenApiDocument } from "../../src/server/api/openapi.ts";
import { serverContext } from "../../src/server/context.ts";
import { API_ROUTES } from "../../src/server/routes/index.ts";
import { call, configureEnv, makeProject, makeUser, type TFixture, tokenFor } from "./fixtures.ts";

const t = useTestDb("web-review");
const h = (operationId: string) => API_ROUTES.find((r) => r.def.operationId === operationId)!.handler;
const bearer = (s: string) => ({ authorization: `Bearer ${s}` });
let a: TFixture;
const tokens: Record<"engineer" | "approver" | "viewer", string> = { engineer: "", approver: "", viewer: "" };
let number = 10;

const spec = (extra: Record<string, unknown> = {}) => ({
  name: "pipe",
  model: { name: "m", baseModel: "/models/tiny" },
  dataset: { name: "ds", version: "v1" },
  eval: { metrics: ["rouge_l"], thresholds: [{ metric: "rouge_l", comparator: ">=", value: 0.9 }, { metric: "human_review_pass_rate", comparator: ">=", value: 0.5 }] },
  ...extra,
});

/** A run stopped (or waiting) at `stage` with its stage rows and `samples` eval samples. */
async function makeRun(status: "blocked" | "awaiting_review" | "succeeded", stage: "gate" | "approve", samples = 4, extra: Record<string, unknown> = {}) {
  const run = await t.db.pipelineRun.create({
    data: { projectId: a.projectId, pipelineId: a.pipelineId, number: number++, trigger: "api", specVersion: 1, resolvedSpec: spec(extra), datasetVersionId: null, status, currentStage: stage, error: status === "blocked" ? "blocked" : null },
    select: { id: true, number: true },
  });
  for (const s of ["prepare", "train", "eval"] as const) await t.db.stageRun.create({ data: { runId: run.id, stage: s, status: "succeeded" } });
  await t.db.stageRun.create({ data: { runId: run.id, stage: stage, status: status === "blocked" ? "failed" : status === "awaiting_review" ? "waiting" : "succeeded" } });
  await t.db.evalSample.createMany({ data: Array.from({ length: samples }, (_, index) => ({ runId: run.id, index, prompt: `p${index}`, reference: "r", prediction: "r", scores: {} })) });
  return run;
}

beforeAll(async () => {
  configureEnv(t.url);
  a = await makeProject(t.db, "review-a");
  for (const role of ["engineer", "approver", "viewer"] as const) {
    const u = await makeUser(t.db, `${role}@review.test`, "viewer");
    await t.db.projectMember.create({ data: { projectId: a.projectId, userId: u.id, role } });
    tokens[role] = (await tokenFor(t.db, u.id)).secret;
  }
});
afterAll(async () => {
  await serverContext().queue().close();
});

describe("review, retry and override over REST", () => {
  it("Retry of a gate-blocked run is accepted (it answered 409 before); a run blocked by a rejected approval gets 409 with the reason", async () => {
    const run = await makeRun("blocked", "gate");
    const res = await call(h("retryRun"), "post", `/api/v1/runs/${run.id}/retry`, { headers: bearer(tokens.engineer), body: {} });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ run: { id: run.id, status: "queued" }, stage: "gate", attempt: 2 });
    expect(await t.db.pipelineRun.findUniqueOrThrow({ where: { id: run.id }, select: { status: true, currentStage: true, error: true } })).toEqual({ status: "queued", currentStage: "gate", error: null });

    const rejected = await makeRun("blocked", "approve");
    const refused = await call(h("retryRun"), "post", `/api/v1/runs/${rejected.id}/retry`, { headers: bearer(tokens.engineer), body: {} });
    expect(refused.status).toBe(409);
    expect((await refused.json()).error.message).toBe(`cannot retry run #${rejected.number}: a run blocked at approve cannot be retried (a rejected approval is final; trigger a new run)`);
  });

  it("a threshold override needs approver or admin, a reason and a metric the gate checks; it is audited and re-gates", async () => {
    const run = await makeRun("blocked", "gate");
    const body = { thresholds: [{ metric: "rouge_l", value: 0.7 }], reason: "accepted for the internal beta" };
    const asEngineer = await call(h("overrideRunGate"), "post", `/api/v1/runs/${run.id}/gate-override`, { headers: bearer(tokens.engineer), body });
    expect(asEngineer.status).toBe(403);
    const noReason = await call(h("overrideRunGate"), "post", `/api/v1/runs/${run.id}/gate-override`, { headers: bearer(tokens.approver), body: { thresholds: body.thresholds } });
    expect(noReason.status).toBe(400);
    expect((await noReason.json()).error.issues).toEqual(expect.arrayContaining([expect.objectContaining({ path: "reason" })]));
    const badValue = await call(h("overrideRunGate"), "post", `/api/v1/runs/${run.id}/gate-override`, { headers: bearer(tokens.approver), body: { ...body, thresholds: [{ metric: "rouge_l", value: 7 }] } });
    expect((await badValue.json()).error.issues[0].path).toBe("thresholds[0].value");
    const notGated = await call(h("overrideRunGate"), "post", `/api/v1/runs/${run.id}/gate-override`, { headers: bearer(tokens.approver), body: { ...body, thresholds: [{ metric: "bleu", value: 0.1 }] } });
    expect(notGated.status).toBe(400);
    expect((await notGated.json()).error.issues[0]).toMatchObject({ path: "thresholds[0].metric" });

    const ok = await call(h("overrideRunGate"), "post", `/api/v1/runs/${run.id}/gate-override`, { headers: bearer(tokens.approver), body });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ stage: "gate", attempt: 2, thresholds: { before: [{ metric: "rouge_l", value: 0.9 }], after: [{ metric: "rouge_l", value: 0.7 }] } });
    const audit = await t.db.auditLog.findFirstOrThrow({ where: { subjectId: run.id, action: "run.gate_override" }, select: { before: true, after: true } });
    expect(audit.after).toMatchObject({ reason: "accepted for the internal beta" });
    const review = await call(h("getRunReview"), "get", `/api/v1/runs/${run.id}/review`, { headers: bearer(tokens.viewer) });
    expect((await review.json()).overrides).toEqual([expect.objectContaining({ metric: "rouge_l", value: 0.7, reason: "accepted for the internal beta" })]);

    // The run is queued now: a second override is refused with the state machine's reason.
    const again = await call(h("overrideRunGate"), "post", `/api/v1/runs/${run.id}/gate-override`, { headers: bearer(tokens.approver), body });
    expect(again.status).toBe(409);
    expect((await again.json()).error.message).toContain("only a run blocked by the evaluation gate can be re-gated with an override (run is queued at gate)");
  });

  it("reviews count toward the quota; the one that meets it releases the gate; viewers may not review", async () => {
    const run = await makeRun("awaiting_review", "gate", 4, { gate: { review: { required: true, minReviewed: 0.5 } } });
    const asViewer = await call(h("reviewRunSample"), "put", `/api/v1/runs/${run.id}/samples/0/review`, { headers: bearer(tokens.viewer), body: { review: "good" } });
    expect(asViewer.status).toBe(403);
    const bad = await call(h("reviewRunSample"), "put", `/api/v1/runs/${run.id}/samples/0/review`, { headers: bearer(tokens.engineer), body: { review: "great" } });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.issues[0].path).toBe("review");
    const first = await call(h("reviewRunSample"), "put", `/api/v1/runs/${run.id}/samples/0/review`, { headers: bearer(tokens.engineer), body: { review: "good" } });
    expect(await first.json()).toMatchObject({ gateTriggered: false, progress: { required: true, needed: 2, reviewed: 1, total: 4, awaiting: true } });
    const second = await call(h("reviewRunSample"), "put", `/api/v1/runs/${run.id}/samples/1/review`, { headers: bearer(tokens.engineer), body: { review: "bad" } });
    expect(await second.json()).toMatchObject({ gateTriggered: true, progress: { reviewed: 2, met: true, passRate: 0.5, awaiting: false } });
    expect(await t.db.stageRun.findFirstOrThrow({ where: { runId: run.id, stage: "gate" }, select: { status: true } })).toEqual({ status: "queued" });
    expect((await t.db.pipelineRun.findUniqueOrThrow({ where: { id: run.id }, select: { status: true } })).status).toBe("running");
    const missing = await call(h("reviewRunSample"), "put", `/api/v1/runs/${run.id}/samples/99/review`, { headers: bearer(tokens.engineer), body: { review: "good" } });
    expect(missing.status).toBe(404);
  });

  it("documents the review and override endpoints in OpenAPI with their roles", () => {
    const doc = buildOpenApiDocument("http://localhost") as unknown as { paths: Record<string, Record<string, { operationId: string; "x-loraplane-auth": { role: string } }>> };
    expect(doc.paths["/api/v1/runs/{runId}/gate-override"]!.post).toMatchObject({ operationId: "overrideRunGate", "x-loraplane-auth": { role: "approver" } });
    expect(doc.paths["/api/v1/runs/{runId}/review"]!.get).toMatchObject({ operationId: "getRunReview", "x-loraplane-auth": { role: "viewer" } });
    expect(doc.paths["/api/v1/runs/{runId}/samples/{index}/review"]!.put).toMatchObject({ operationId: "reviewRunSample", "x-loraplane-auth": { role: "engineer" } });
  });
});
