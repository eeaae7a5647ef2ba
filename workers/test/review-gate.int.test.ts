// Review-gated runs, retry and threshold override of gate-blocked runs, driven end to end on the local executor with
// the fake workload (8 eval samples, rouge_l 0.75).
import { randomBytes } from "node:crypto";
import { useTestDb } from "@loraplane/db/testing";
import { ConflictError, overrideGate, retryRun, reviewRunSample, triggerRun, ValidationError, type TActor } from "@loraplane/services";
import { createPipelineQueue } from "@loraplane/queue";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { processStageJob } from "../src/engine/stage-runner.ts";
import type { TWorkerApp } from "../src/worker-app.ts";
import { makeDataDirs, seedProject, waitFor, startFakeWorker, stopFakeWorker } from "./helpers/fixtures.ts";

const t = useTestDb("review-gate");
const dirs = makeDataDirs();
const prefix = `lpq-review-${randomBytes(4).toString("hex")}`;
let app: TWorkerApp;

const startApp = () =>
  startFakeWorker(t.db, dirs, prefix, { reconcileIntervalMs: 500 });

beforeAll(async () => {
  app = await startApp();
});
afterAll(async () => {
  await stopFakeWorker(app);
});

const deps = () => ({ db: t.db, queue: app.queue });
const runOf = (runId: string) => t.db.pipelineRun.findUniqueOrThrow({ where: { id: runId }, select: { status: true, error: true, currentStage: true } });
const inStatus = (runId: string, statuses: string[], timeoutMs = 30_000) =>
  waitFor(async () => {
    const r = await runOf(runId);
    return statuses.includes(r.status) ? r : null;
  }, timeoutMs, `run ${runId} to be ${statuses.join("/")}`);
const finished = (runId: string) => inStatus(runId, ["succeeded", "failed", "blocked", "cancelled"]);
const actorOf = (userId: string): TActor => ({ type: "user", userId });
const gateEvaluations = (runId: string) => t.db.auditLog.count({ where: { subjectId: runId, action: "run.gate_evaluated" } });
const gateRows = async (runId: string) =>
  (await t.db.stageRun.findMany({ where: { runId, stage: "gate" }, select: { attempt: true, status: true }, orderBy: { attempt: "asc" } })).map((r) => `${r.attempt}:${r.status}`);

describe("review-gated runs", () => {
  it("waits in awaiting_review after eval, is reviewed with the quota, then the gate passes on human_review_pass_rate", async () => {
    const s = await seedProject(t.db, dirs, {
      eval: { metrics: ["rouge_l"], thresholds: [{ metric: "rouge_l", value: 0.5 }, { metric: "human_review_pass_rate", value: 0.7 }] },
      gate: { review: { required: true, minReviewed: 0.5 } },
    });
    const { run } = await triggerRun(deps(), { projectId: s.projectId, pipelineId: s.pipelineId, trigger: "api" });
    expect(await inStatus(run.id, ["awaiting_review"])).toMatchObject({ status: "awaiting_review", currentStage: "gate" });
    // The reconciler (every 500 ms here) looks at the waiting gate and leaves it waiting: nothing evaluated, nothing lost.
    await new Promise((r) => setTimeout(r, 1500));
    expect(await runOf(run.id)).toMatchObject({ status: "awaiting_review", currentStage: "gate" });
    expect(await gateEvaluations(run.id)).toBe(0);
    expect(await gateRows(run.id)).toEqual(["1:waiting"]);

    // 8 samples, half must be reviewed: the first three do not release the gate, the fourth does.
    for (const [index, review] of [[0, "good"], [1, "good"], [2, "bad"]] as const) {
      const r = await reviewRunSample(deps(), { runId: run.id, index, review, actor: actorOf(s.userId) });
      expect(r.gateTriggered).toBe(false);
      expect(r.progress).toMatchObject({ required: true, needed: 4, reviewed: index + 1, total: 8, awaiting: true });
    }
    const last = await reviewRunSample(deps(), { runId: run.id, index: 3, review: "good", actor: actorOf(s.userId) });
    expect(last).toMatchObject({ gateTriggered: true, progress: { reviewed: 4, met: true } });
    expect((await finished(run.id)).status).toBe("succeeded");
    const rate = await t.db.evalResult.findUniqueOrThrow({ where: { runId_metric: { runId: run.id, metric: "human_review_pass_rate" } }, select: { value: true, passed: true, threshold: true } });
    expect(rate).toEqual({ value: 0.75, passed: true, threshold: 0.7 });
    expect(await gateEvaluations(run.id)).toBe(1);
    expect(await t.db.modelVersion.count({ where: { runId: run.id } })).toBe(1);
    expect(await t.db.auditLog.count({ where: { subjectId: run.id, action: "run.review_completed", actorId: s.userId } })).toBe(1);
  });

  it("concurrent final reviews release the gate once and the gate is evaluated once", async () => {
    const s = await seedProject(t.db, dirs, {
      eval: { metrics: ["rouge_l"], thresholds: [{ metric: "human_review_pass_rate", value: 0.5 }] },
      gate: { review: { required: true, minReviewed: 3 } },
    });
    const reviewers = await Promise.all([1, 2, 3].map((i) => t.db.user.create({ data: { email: `r${i}-${randomBytes(3).toString("hex")}@example.test`, role: "engineer" }, select: { id: true } })));
    const { run } = await triggerRun(deps(), { projectId: s.projectId, pipelineId: s.pipelineId, trigger: "api" });
    await inStatus(run.id, ["awaiting_review"]);
    await reviewRunSample(deps(), { runId: run.id, index: 0, review: "good", actor: actorOf(s.userId) });
    // Three reviewers submit at once with one review in: the second of theirs to commit meets the quota of 3. Exactly
    // one releases the gate — not two (a double evaluation), not none (each counting only its own review, lost).
    const results = await Promise.all(reviewers.map((r, i) => reviewRunSample(deps(), { runId: run.id, index: i + 1, review: "good", actor: actorOf(r.id) })));
    expect(results.filter((r) => r.gateTriggered)).toHaveLength(1);
    expect((await finished(run.id)).status).toBe("succeeded");
    // Let the reconciler run a few more passes: it must not evaluate the finished gate again.
    await new Promise((r) => setTimeout(r, 1200));
    expect(await gateEvaluations(run.id)).toBe(1);
    expect(await gateRows(run.id)).toEqual(["1:succeeded"]);
    expect(await t.db.stageRun.count({ where: { runId: run.id, stage: "register" } })).toBe(1);
  });
});

describe("crash safety of the review gate", () => {
  it("a quota met while no worker runs and Redis lost the nudge: the restarted worker's reconciler evaluates the gate once, even with duplicate processors", async () => {
    const s = await seedProject(t.db, dirs, {
      eval: { metrics: ["rouge_l"], thresholds: [{ metric: "human_review_pass_rate", value: 0.5 }] },
      gate: { review: { required: true, minReviewed: 1 } },
    });
    const { run } = await triggerRun(deps(), { projectId: s.projectId, pipelineId: s.pipelineId, trigger: "api" });
    await inStatus(run.id, ["awaiting_review"]);
    await app.stop();
    const connection = new Redis("redis://127.0.0.1:6379", { maxRetriesPerRequest: null });
    const queue = createPipelineQueue({ connection, prefix });
    const released = await reviewRunSample({ db: t.db, queue }, { runId: run.id, index: 0, review: "good", actor: actorOf(s.userId) });
    expect(released.gateTriggered).toBe(true);
    // Redis forgets everything that was queued (the nudge): only Postgres knows the gate is queued.
    await queue.runs.obliterate({ force: true });
    await queue.stages.obliterate({ force: true });
    await queue.close();
    connection.disconnect();
    expect(await gateRows(run.id)).toEqual(["1:queued"]);
    app = await startApp();
    // Two more processors of the same released gate race the restarted worker's reconciler: one transition wins and
    // only it records the verdicts and the evaluation.
    const job = { runId: run.id, stage: "gate" as const, attempt: 1 };
    await Promise.all([processStageJob(app.ctx, job), processStageJob(app.ctx, job)]);
    expect((await finished(run.id)).status).toBe("succeeded");
    expect(await gateEvaluations(run.id)).toBe(1);
    expect(await gateRows(run.id)).toEqual(["1:succeeded"]);
  });
});

describe("retry and override of a gate-blocked run", () => {
  it("Retry of a gate-blocked run is accepted (no 409): the gate evaluates again with the reviews as they are now", async () => {
    const s = await seedProject(t.db, dirs, {
      eval: { metrics: ["rouge_l"], thresholds: [{ metric: "human_review_pass_rate", value: 0.75 }] },
      gate: { review: { required: true, minReviewed: 4 } },
    });
    const { run } = await triggerRun(deps(), { projectId: s.projectId, pipelineId: s.pipelineId, trigger: "api" });
    await inStatus(run.id, ["awaiting_review"]);
    for (const [index, review] of [[0, "good"], [1, "bad"], [2, "good"], [3, "bad"]] as const) await reviewRunSample(deps(), { runId: run.id, index, review, actor: actorOf(s.userId) });
    const blocked = await finished(run.id);
    expect(blocked).toMatchObject({ status: "blocked", currentStage: "gate" });
    expect(blocked.error).toContain("human_review_pass_rate = 0.5, needs >= 0.75");

    // A second look at the two bad samples: reviewers may change marks on a blocked run; Retry re-gates with them.
    for (const index of [1, 3]) await reviewRunSample(deps(), { runId: run.id, index, review: "good", actor: actorOf(s.userId) });
    const retried = await retryRun(deps(), { runId: run.id, actor: actorOf(s.userId) });
    expect(retried).toMatchObject({ run: { status: "queued" }, stage: "gate", attempt: 2 });
    expect((await finished(run.id)).status).toBe("succeeded");
    expect(await gateRows(run.id)).toEqual(["1:failed", "2:succeeded"]);
    expect(await gateEvaluations(run.id)).toBe(2);
    // Train and eval were not repeated.
    expect(await t.db.stageRun.count({ where: { runId: run.id, stage: { in: ["train", "eval"] } } })).toBe(2);
  });

  it("a blocked run gets an audited override with a reason, is re-gated and passes; forbidden actions are refused with the reason", async () => {
    const s = await seedProject(t.db, dirs, { eval: { metrics: ["rouge_l", "exact_match"], thresholds: [{ metric: "rouge_l", value: 0.9 }, { metric: "exact_match", value: 0 }] } });
    const approver = await t.db.user.create({ data: { email: `approver-${randomBytes(3).toString("hex")}@example.test`, role: "approver" }, select: { id: true } });
    const { run } = await triggerRun(deps(), { projectId: s.projectId, pipelineId: s.pipelineId, trigger: "api" });
    expect(await finished(run.id)).toMatchObject({ status: "blocked", error: "blocked by the evaluation gate: rouge_l = 0.75, needs >= 0.9 (blocking)" });

    // Bad input names the field; an override cannot add a threshold the gate does not have.
    const noReason = await overrideGate(deps(), { runId: run.id, actor: actorOf(approver.id), thresholds: [{ metric: "rouge_l", value: 0.7 }], reason: " " }).catch((e: unknown) => e);
    expect(noReason).toBeInstanceOf(ValidationError);
    expect((noReason as ValidationError).issues[0]).toMatchObject({ path: "reason" });
    const unknownMetric = await overrideGate(deps(), { runId: run.id, actor: actorOf(approver.id), thresholds: [{ metric: "bleu", value: 0.1 }], reason: "lower bar" }).catch((e: unknown) => e);
    expect(unknownMetric).toBeInstanceOf(ValidationError);
    expect((unknownMetric as ValidationError).issues[0]).toMatchObject({ path: "thresholds[0].metric" });

    const result = await overrideGate(deps(), { runId: run.id, actor: actorOf(approver.id), thresholds: [{ metric: "rouge_l", comparator: ">=", value: 0.7 }], reason: "rouge_l 0.75 is fine for this internal model" });
    expect(result).toMatchObject({ stage: "gate", attempt: 2, thresholds: { before: [{ metric: "rouge_l", value: 0.9 }], after: [{ metric: "rouge_l", value: 0.7 }] } });
    expect((await finished(run.id)).status).toBe("succeeded");
    expect(await gateRows(run.id)).toEqual(["1:failed", "2:succeeded"]);
    const audit = await t.db.auditLog.findFirstOrThrow({ where: { subjectId: run.id, action: "run.gate_override" }, select: { actorId: true, before: true, after: true } });
    expect(audit).toMatchObject({
      actorId: approver.id,
      before: { status: "blocked", thresholds: [{ metric: "rouge_l", comparator: ">=", value: 0.9, blocking: true }] },
      after: { reason: "rouge_l 0.75 is fine for this internal model", thresholds: [{ metric: "rouge_l", comparator: ">=", value: 0.7, blocking: true }] },
    });
    const verdict = await t.db.evalResult.findUniqueOrThrow({ where: { runId_metric: { runId: run.id, metric: "rouge_l" } }, select: { threshold: true, passed: true } });
    expect(verdict).toEqual({ threshold: 0.7, passed: true });
    // The override applies to this run only: the pipeline's spec is unchanged and the next run blocks again.
    const next = await triggerRun(deps(), { projectId: s.projectId, pipelineId: s.pipelineId, trigger: "api" });
    expect((await finished(next.run.id)).status).toBe("blocked");

    // The run succeeded: neither retry nor override is accepted now, and the refusal says why.
    const retryDone = await retryRun(deps(), { runId: run.id, actor: actorOf(s.userId) }).catch((e: unknown) => e);
    expect(retryDone).toBeInstanceOf(ConflictError);
    expect((retryDone as ConflictError).status).toBe(409);
    expect((retryDone as Error).message).toBe(`cannot retry run #${result.run.number}: only failed, cancelled or gate-blocked runs can be retried (run is succeeded)`);
    const overrideDone = await overrideGate(deps(), { runId: run.id, actor: actorOf(approver.id), thresholds: [{ metric: "rouge_l", value: 0.1 }], reason: "again" }).catch((e: unknown) => e);
    expect(overrideDone).toBeInstanceOf(ConflictError);
    expect((overrideDone as Error).message).toContain("only a run blocked by the evaluation gate can be re-gated with an override (run is succeeded at register)");
  });
});
