// Suite 4 (issue 11): run-token and artifact integrity. A run token is bound to run + stage + attempt, refused once
// that attempt is over (revoked, or simply no longer running) and for another stage; registration registers exactly
// the adapter the eval stage measured, whatever adapter rows appear afterwards.
import { ZPipelineSpec } from "@loraplane/core";
import type { Db, StageName } from "@loraplane/db";
import { useTestDb } from "@loraplane/db/testing";
import { describe, expect, it } from "vitest";
import { ConflictError, ForbiddenError, UnauthorizedError } from "../../src/errors.ts";
import { authenticateRunToken, issueRunToken, recordArtifacts, recordHeartbeat, revokeStageRunTokens } from "../../src/ingest/index.ts";
import { registerModelVersion } from "../../src/registry/index.ts";
import { seedPipeline } from "../runs/seed.ts";

const t = useTestDb("run_token_integrity");

async function createRun(db: Db) {
  const s = await seedPipeline(db);
  const spec = ZPipelineSpec.parse({
    name: "demo",
    model: { name: `m-${Math.random().toString(36).slice(2, 8)}`, baseModel: "/models/tiny" },
    dataset: { name: "demo", version: "v1" },
    training: { maxSteps: 5 },
    eval: { metrics: ["rouge_l"], thresholds: [{ metric: "rouge_l", comparator: ">=", value: 0.1 }] },
  });
  const run = await db.pipelineRun.create({
    data: { projectId: s.projectId, pipelineId: s.pipelineId, number: 1, trigger: "api", specVersion: 1, resolvedSpec: spec as object, status: "running", datasetVersionId: s.datasetVersionId },
    select: { id: true },
  });
  return run.id;
}

const stageRun = (db: Db, runId: string, stage: StageName, attempt: number, status: "running" | "succeeded" | "failed" = "running", result?: object) =>
  db.stageRun.create({ data: { runId, stage, attempt, status, ...(result ? { result } : {}) }, select: { id: true } });

const finish = (db: Db, id: string, status: "succeeded" | "failed", result?: object) =>
  db.stageRun.update({ where: { id }, data: { status, finishedAt: new Date(), ...(result ? { result } : {}) } });

describe("run tokens are bound to run, stage and attempt", () => {
  it("a token works while its stage attempt runs and is refused after the stage ends, even before it is revoked", async () => {
    const runId = await createRun(t.db);
    const train = await stageRun(t.db, runId, "train", 1);
    const { secret } = await issueRunToken(t.db, { runId, stage: "train", attempt: 1 }, 3600);
    const claims = await authenticateRunToken(t.db, runId, secret);
    expect(claims).toEqual({ runId, stage: "train", attempt: 1, stageRunId: train.id });
    await recordHeartbeat(t.db, claims, { stage: "train", step: 1 });
    // What gpu-runtime's reporter sends before its first progress line: an empty stage is no claim to another stage.
    await recordHeartbeat(t.db, claims, { stage: "", step: 0 });

    // The stage ended (succeeded) but nothing revoked the token yet: refused because the attempt no longer runs.
    await finish(t.db, train.id, "succeeded");
    await expect(authenticateRunToken(t.db, runId, secret)).rejects.toBeInstanceOf(ForbiddenError);
    // Revoked at stage end: refused outright.
    expect(await revokeStageRunTokens(t.db, runId, "train", 1)).toBe(1);
    await expect(authenticateRunToken(t.db, runId, secret)).rejects.toBeInstanceOf(UnauthorizedError);
    // A revoked token stays refused even if its stage row were running again.
    await t.db.stageRun.update({ where: { id: train.id }, data: { status: "running" } });
    await expect(authenticateRunToken(t.db, runId, secret)).rejects.toThrow(/revoked/);
  });

  it("a token is refused for another run, for another attempt of its stage, and for another stage's heartbeat", async () => {
    const runId = await createRun(t.db);
    const other = await createRun(t.db);
    const first = await stageRun(t.db, runId, "train", 1);
    const { secret } = await issueRunToken(t.db, { runId, stage: "train", attempt: 1 }, 3600);
    await expect(authenticateRunToken(t.db, other, secret)).rejects.toBeInstanceOf(UnauthorizedError);

    const claims = await authenticateRunToken(t.db, runId, secret);
    const wrongStage = recordHeartbeat(t.db, claims, { stage: "eval", step: 1 });
    await expect(wrongStage).rejects.toBeInstanceOf(ForbiddenError);
    await expect(wrongStage).rejects.toMatchObject({ status: 403, issues: [{ path: "stage" }] });

    // Attempt 1 failed and attempt 2 runs: the attempt-1 token is refused; attempt 2 has its own.
    await finish(t.db, first.id, "failed");
    await stageRun(t.db, runId, "train", 2);
    await expect(authenticateRunToken(t.db, runId, secret)).rejects.toMatchObject({ status: 403, message: expect.stringContaining("train attempt 1") });
    const second = await issueRunToken(t.db, { runId, stage: "train", attempt: 2 }, 3600);
    expect(await authenticateRunToken(t.db, runId, second.secret)).toMatchObject({ stage: "train", attempt: 2 });
  });

  it("an expired token is refused", async () => {
    const runId = await createRun(t.db);
    await stageRun(t.db, runId, "train", 1);
    const { secret } = await issueRunToken(t.db, { runId, stage: "train", attempt: 1 }, -1);
    await expect(authenticateRunToken(t.db, runId, secret)).rejects.toBeInstanceOf(UnauthorizedError);
  });

  it("only the train stage reports adapters, and another attempt's artifact cannot be overwritten", async () => {
    const runId = await createRun(t.db);
    const train = await stageRun(t.db, runId, "train", 1);
    const trainToken = await issueRunToken(t.db, { runId, stage: "train", attempt: 1 }, 3600);
    const uri = `file:///runs/${runId}/train-1/output/adapter`;
    await recordArtifacts(t.db, await authenticateRunToken(t.db, runId, trainToken.secret), { artifacts: [{ kind: "adapter", uri, sha256: "a".repeat(64) }] });
    await finish(t.db, train.id, "succeeded");

    await stageRun(t.db, runId, "eval", 1);
    const evalClaims = await authenticateRunToken(t.db, runId, (await issueRunToken(t.db, { runId, stage: "eval", attempt: 1 }, 3600)).secret);
    const adapter = recordArtifacts(t.db, evalClaims, { artifacts: [{ kind: "adapter", uri: `file:///runs/${runId}/eval-1/output/other`, sha256: "b".repeat(64) }] });
    await expect(adapter).rejects.toMatchObject({ status: 403, issues: [{ path: "artifacts[0].kind" }] });
    // Rewriting the train adapter's row under another kind is refused too.
    const rewrite = recordArtifacts(t.db, evalClaims, { artifacts: [{ kind: "other", uri, sha256: "b".repeat(64) }] });
    await expect(rewrite).rejects.toBeInstanceOf(ConflictError);
    const rows = await t.db.artifact.findMany({ where: { runId }, select: { kind: true, sha256: true } });
    expect(rows).toEqual([{ kind: "adapter", sha256: "a".repeat(64) }]);
    // The eval stage may report its own artifacts.
    await recordArtifacts(t.db, evalClaims, { artifacts: [{ kind: "eval_report", uri: `file:///runs/${runId}/eval-1/output/eval_report.json` }] });
  });
});

describe("registration registers exactly the adapter eval measured", () => {
  async function evaluatedRun() {
    const runId = await createRun(t.db);
    const train = await stageRun(t.db, runId, "train", 1, "succeeded", { adapterDir: "/runs/x/adapter" });
    const evaluated = await t.db.artifact.create({
      data: { runId, stageRunId: train.id, kind: "adapter", uri: "file:///runs/x/adapter", sha256: "a".repeat(64) },
      select: { id: true },
    });
    await stageRun(t.db, runId, "eval", 1, "succeeded", { metrics: { rouge_l: 0.5 }, adapter: { artifactId: evaluated.id, uri: "file:///runs/x/adapter", sha256: "a".repeat(64) } });
    return { runId, evaluatedId: evaluated.id, trainId: train.id };
  }

  it("an adapter artifact added after eval does not change what is registered", async () => {
    const { runId, evaluatedId, trainId } = await evaluatedRun();
    // What a holder of a still-valid token (or anything else writing rows) could add after eval passed.
    await new Promise((r) => setTimeout(r, 5));
    await t.db.artifact.create({ data: { runId, stageRunId: trainId, kind: "adapter", uri: "file:///runs/x/planted", sha256: "f".repeat(64) } });
    const { version } = await registerModelVersion(t.db, runId);
    expect(version.adapterArtifactId).toBe(evaluatedId);
    expect(version.lineage).toMatchObject({ adapter: { artifactId: evaluatedId, sha256: "a".repeat(64) } });
  });

  it("refuses to register when the evaluated artifact's digest changed since eval", async () => {
    const { runId, evaluatedId } = await evaluatedRun();
    await t.db.artifact.update({ where: { id: evaluatedId }, data: { sha256: "e".repeat(64) } });
    await expect(registerModelVersion(t.db, runId)).rejects.toThrow(`eval measured sha256 ${"a".repeat(64)}, the artifact now says ${"e".repeat(64)}`);
    expect(await t.db.modelVersion.count({ where: { runId } })).toBe(0);
  });

  it("refuses to register a run whose eval recorded no adapter", async () => {
    const runId = await createRun(t.db);
    const train = await stageRun(t.db, runId, "train", 1, "succeeded");
    await t.db.artifact.create({ data: { runId, stageRunId: train.id, kind: "adapter", uri: "file:///runs/y/adapter", sha256: "a".repeat(64) } });
    await stageRun(t.db, runId, "eval", 1, "succeeded", { metrics: { rouge_l: 0.5 } });
    await expect(registerModelVersion(t.db, runId)).rejects.toBeInstanceOf(ConflictError);
  });
});
