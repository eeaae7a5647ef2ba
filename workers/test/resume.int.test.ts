// A retried train attempt continues from the newest checkpoint an earlier attempt left whose files still match their
// digest (issue 15 item 6): the worker hands it over as paths.resumeFrom and records it on the attempt, which the run
// page shows as "resumed from step N". Driven on the local executor with the fake workload (FAKE_MODE=crash-once:
// checkpoints every 5 steps, killed at step 12; an attempt given resumeFrom continues after its step). The runtime's
// side (loading the checkpoint, its guard) is gpu-runtime/tests/test_resume_attempts.py.
import { randomBytes } from "node:crypto";
import { appendFileSync, readFileSync } from "node:fs";
import path from "node:path";
import { useTestDb } from "@loraplane/db/testing";
import { retryRun, triggerRun } from "@loraplane/services";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TWorkerApp } from "../src/worker-app.ts";
import { makeDataDirs, seedProject, waitFor, startFakeWorker, stopFakeWorker } from "./helpers/fixtures.ts";

const t = useTestDb("resume");
const dirs = makeDataDirs();
const prefix = `lpq-resume-${randomBytes(4).toString("hex")}`;
let app: TWorkerApp;

beforeAll(async () => {
  // Every workload of this file runs in crash-once mode (one test file is one process).
  process.env.FAKE_MODE = "crash-once";
  app = await startFakeWorker(t.db, dirs, prefix);
});
afterAll(async () => {
  delete process.env.FAKE_MODE;
  await stopFakeWorker(app);
});

const deps = () => ({ db: t.db, queue: app.queue });
const finished = (runId: string) =>
  waitFor(async () => {
    const r = await t.db.pipelineRun.findUniqueOrThrow({ where: { id: runId }, select: { status: true, error: true } });
    return ["succeeded", "failed", "blocked", "cancelled"].includes(r.status) ? r : null;
  }, 30_000, `run ${runId} to finish`);
const trainAttempt = (runId: string, attempt: number) =>
  t.db.stageRun.findUniqueOrThrow({ where: { runId_stage_attempt: { runId, stage: "train", attempt } }, select: { status: true, resumedFromUri: true, resumedFromStep: true, result: true } });
const jobJson = (runId: string, attempt: number) =>
  JSON.parse(readFileSync(path.join(dirs.workDir, "runs", runId, `train-${attempt}`, "job.json"), "utf8")) as { paths: Record<string, string> };
async function crashedRun(s: Awaited<ReturnType<typeof seedProject>>) {
  const { run } = await triggerRun(deps(), { projectId: s.projectId, pipelineId: s.pipelineId, trigger: "api" });
  const done = await finished(run.id);
  expect(done.status).toBe("failed");
  expect(done.error).toContain("train failed: workload exited with code 137");
  const first = path.join(dirs.workDir, "runs", run.id, "train-1", "output", "checkpoints");
  return { runId: run.id, checkpoints: first };
}

describe("a retried train attempt", () => {
  it("continues from the previous attempt's newest checkpoint and records it", async () => {
    const s = await seedProject(t.db, dirs, { training: { maxSteps: 20, learningRate: 0.001 } });
    const { runId, checkpoints } = await crashedRun(s);
    expect((await trainAttempt(runId, 1)).resumedFromStep).toBeNull();

    await retryRun(deps(), { runId, actor: { type: "user", userId: s.userId } });
    expect((await finished(runId)).status).toBe("succeeded");
    const newest = path.join(checkpoints, "step-10");
    expect(jobJson(runId, 2).paths.resumeFrom).toBe(newest);
    expect(await trainAttempt(runId, 2)).toMatchObject({ status: "succeeded", resumedFromUri: newest, resumedFromStep: 10 });
  });

  it("skips a checkpoint whose files no longer match their digest, and starts fresh when none is left", async () => {
    const s = await seedProject(t.db, dirs, { training: { maxSteps: 20, learningRate: 0.001 } });
    const { runId, checkpoints } = await crashedRun(s);
    // step-10 changed after it was reported: it is not trusted; step-5 still verifies.
    appendFileSync(path.join(checkpoints, "step-10", "trainer_state.json"), " ");
    await retryRun(deps(), { runId, actor: { type: "user", userId: s.userId } });
    expect((await finished(runId)).status).toBe("succeeded");
    expect(await trainAttempt(runId, 2)).toMatchObject({ resumedFromUri: path.join(checkpoints, "step-5"), resumedFromStep: 5 });

    const s2 = await seedProject(t.db, dirs, { training: { maxSteps: 20, learningRate: 0.001 } });
    const second = await crashedRun(s2);
    for (const step of [5, 10]) appendFileSync(path.join(second.checkpoints, `step-${step}`, "trainer_state.json"), " ");
    await retryRun(deps(), { runId: second.runId, actor: { type: "user", userId: s2.userId } });
    // No verified checkpoint: attempt 2 starts from step 1 (and, in crash-once mode, a fresh attempt dies again).
    expect((await finished(second.runId)).status).toBe("failed");
    expect(jobJson(second.runId, 2).paths.resumeFrom).toBeUndefined();
    expect((await trainAttempt(second.runId, 2)).resumedFromStep).toBeNull();
  });
});
