// Suite 4 (issue 11) over HTTP: the ingest routes accept a run token only for its own run, stage and attempt while
// that attempt runs — 403 after the stage ended or for another stage's data, 401 once revoked or for another run.
import { issueRunToken, revokeStageRunTokens } from "@loraplane/services";
import { useTestDb } from "@loraplane/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serverContext } from "../../src/server/context.ts";
import { API_ROUTES } from "../../src/server/routes/index.ts";
import { call, configureEnv, makeProject, type TFixture } from "./fixtures.ts";

const t = useTestDb("web-run-token");
const h = (operationId: string) => API_ROUTES.find((r) => r.def.operationId === operationId)!.handler;
let a: TFixture;
let b: TFixture;

beforeAll(async () => {
  configureEnv(t.url);
  a = await makeProject(t.db, "tok-a");
  b = await makeProject(t.db, "tok-b");
});
afterAll(async () => {
  await serverContext().queue().close();
});

const post = (op: string, runId: string, what: string, secret: string, body: unknown) =>
  call(h(op), "post", `/api/v1/ingest/runs/${runId}/${what}`, { headers: { authorization: `Bearer ${secret}` }, body });

describe("ingest routes and run tokens", () => {
  it("accepts the token of the running attempt, and refuses it after the stage, for another stage, run or when revoked", async () => {
    const train = await t.db.stageRun.create({ data: { runId: a.runId, stage: "train", attempt: 1, status: "running" }, select: { id: true } });
    const { secret } = await issueRunToken(t.db, { runId: a.runId, stage: "train", attempt: 1 }, 3600);

    expect((await post("ingestHeartbeat", a.runId, "heartbeat", secret, { stage: "train", step: 1 })).status).toBe(202);
    const uri = `file:///runs/${a.runId}/train-1/output/adapter`;
    expect((await post("ingestArtifacts", a.runId, "artifacts", secret, { artifacts: [{ kind: "adapter", uri, sha256: "a".repeat(64) }] })).status).toBe(202);
    // Another stage's heartbeat: 403 naming the field.
    const wrongStage = await post("ingestHeartbeat", a.runId, "heartbeat", secret, { stage: "eval" });
    expect(wrongStage.status).toBe(403);
    expect(JSON.stringify(await wrongStage.json())).toContain('"stage"');
    // Another run: 401.
    expect((await post("ingestMetrics", b.runId, "metrics", secret, { points: [{ key: "x", step: 1, value: 1 }] })).status).toBe(401);

    // The stage ended: every ingest route refuses the token (403) even before revocation …
    await t.db.stageRun.update({ where: { id: train.id }, data: { status: "succeeded" } });
    expect((await post("ingestMetrics", a.runId, "metrics", secret, { points: [{ key: "x", step: 1, value: 1 }] })).status).toBe(403);
    expect((await post("ingestArtifacts", a.runId, "artifacts", secret, { artifacts: [{ kind: "adapter", uri: `${uri}-2`, sha256: "b".repeat(64) }] })).status).toBe(403);
    // … and 401 once revoked at stage end.
    await revokeStageRunTokens(t.db, a.runId, "train", 1);
    expect((await post("ingestHeartbeat", a.runId, "heartbeat", secret, {})).status).toBe(401);
    expect(await t.db.artifact.count({ where: { runId: a.runId, uri: { startsWith: `file:///runs/${a.runId}/` } } })).toBe(1);
  });

  it("an eval token cannot report an adapter", async () => {
    await t.db.stageRun.create({ data: { runId: b.runId, stage: "eval", attempt: 1, status: "running" } });
    const { secret } = await issueRunToken(t.db, { runId: b.runId, stage: "eval", attempt: 1 }, 3600);
    const res = await post("ingestArtifacts", b.runId, "artifacts", secret, { artifacts: [{ kind: "adapter", uri: `file:///runs/${b.runId}/eval-1/x`, sha256: "c".repeat(64) }] });
    expect(res.status).toBe(403);
    expect(JSON.stringify(await res.json())).toContain("artifacts[0].kind");
  });
});
