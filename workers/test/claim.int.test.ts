// The claim statement (claimStageRun) that starts every stage job: of several workers racing for the same attempt,
// exactly one moves it to running, whether the row exists already (queued by the trigger or the previous stage) or
// not yet; and it refuses stale, superseded and finished work without touching it.
import { claimStageRun, ensureStageRun, updateRunIf } from "@loraplane/db";
import { useTestDb } from "@loraplane/db/testing";
import { describe, expect, it } from "vitest";

const t = useTestDb("claim");

async function seedRun() {
  const label = Math.random().toString(36).slice(2, 8);
  const project = await t.db.project.create({ data: { slug: `p-${label}`, name: label }, select: { id: true } });
  const pipeline = await t.db.pipeline.create({ data: { projectId: project.id, name: "p", spec: {} }, select: { id: true } });
  return t.db.pipelineRun.create({ data: { projectId: project.id, pipelineId: pipeline.id, number: 1, trigger: "api", specVersion: 1, resolvedSpec: {} }, select: { id: true } });
}

/** `n` claims of the same attempt at once, each on its own connection from the pool. */
const race = (runId: string, n: number) => Promise.all(Array.from({ length: n }, () => claimStageRun(t.db, runId, "prepare", 1)));

describe("claimStageRun", () => {
  it("two or more workers racing for a queued attempt: exactly one claims it, the others see it running", async () => {
    for (let trial = 0; trial < 5; trial++) {
      const run = await seedRun();
      await ensureStageRun(t.db, run.id, "prepare", 1);
      const claims = await race(run.id, trial === 0 ? 2 : 8);
      const winners = claims.filter((c) => c.claimed);
      expect(winners).toHaveLength(1);
      expect(winners[0]!.run).toMatchObject({ id: run.id, status: "running", currentStage: "prepare" });
      expect(winners[0]!.stage?.status).toBe("running");
      // A loser either saw the winner's committed row (running: what a re-delivered job re-attaches to) or raced it
      // within one snapshot (no row: the stage runner leaves it to the winner). None sees a claimable row.
      for (const c of claims.filter((x) => !x.claimed)) expect([undefined, "running"]).toContain(c.stage?.status);
      const rows = await t.db.stageRun.findMany({ where: { runId: run.id } });
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ status: "running", attempt: 1 });
      expect(rows[0]!.startedAt).toBeInstanceOf(Date);
    }
  });

  it("racing for an attempt that has no row yet: one row is created, exactly one worker claims it", async () => {
    for (let trial = 0; trial < 5; trial++) {
      const run = await seedRun();
      const claims = await race(run.id, 8);
      expect(claims.filter((c) => c.claimed)).toHaveLength(1);
      expect(await t.db.stageRun.count({ where: { runId: run.id } })).toBe(1);
    }
  });

  it("the claimed row is what Prisma reads (types, timestamps, run fields)", async () => {
    const run = await seedRun();
    const before = Date.now();
    const claim = await claimStageRun(t.db, run.id, "prepare", 1);
    const stored = await t.db.stageRun.findFirstOrThrow({ where: { runId: run.id }, select: { id: true, status: true, startedAt: true, heartbeatAt: true, error: true, result: true } });
    expect(claim.stage).toMatchObject(stored);
    expect(Math.abs(claim.stage!.startedAt!.getTime() - before)).toBeLessThan(60_000);
    const storedRun = await t.db.pipelineRun.findUniqueOrThrow({ where: { id: run.id } });
    expect(claim.run).toMatchObject({ status: storedRun.status, currentStage: storedRun.currentStage, startedAt: storedRun.startedAt, resolvedSpec: {} });
  });

  it("a re-delivered job finds its attempt running (re-attach) and claims nothing", async () => {
    const run = await seedRun();
    expect((await claimStageRun(t.db, run.id, "prepare", 1)).claimed).toBe(true);
    const again = await claimStageRun(t.db, run.id, "prepare", 1);
    expect(again.claimed).toBe(false);
    expect(again.stage?.status).toBe("running");
  });

  it("refuses without writing: a superseded attempt, a run at another stage, a finished run, a deleted run", async () => {
    const run = await seedRun();
    await ensureStageRun(t.db, run.id, "prepare", 2);
    const superseded = await claimStageRun(t.db, run.id, "prepare", 1);
    expect(superseded).toMatchObject({ claimed: false, superseded: true, stage: null });
    expect(await t.db.stageRun.count({ where: { runId: run.id, attempt: 1 } })).toBe(0);

    const other = await seedRun();
    await updateRunIf(t.db, other.id, ["queued"], { status: "running", currentStage: "train" });
    const stale = await claimStageRun(t.db, other.id, "prepare", 1);
    expect(stale).toMatchObject({ claimed: false, stage: null });
    expect(stale.run?.currentStage).toBe("train");

    const cancelled = await seedRun();
    await ensureStageRun(t.db, cancelled.id, "prepare", 1);
    await updateRunIf(t.db, cancelled.id, ["queued"], { status: "cancelled", finishedAt: new Date() });
    const refused = await claimStageRun(t.db, cancelled.id, "prepare", 1);
    expect(refused).toMatchObject({ claimed: false, stage: null });
    expect(refused.run?.status).toBe("cancelled");
    expect((await t.db.stageRun.findFirstOrThrow({ where: { runId: cancelled.id } })).status).toBe("queued");

    expect(await claimStageRun(t.db, "no-such-run", "prepare", 1)).toEqual({ run: null, stage: null, claimed: false, superseded: false });
  });
});
