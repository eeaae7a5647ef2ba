// A filtered slice of stored interactions becomes a dataset version through the upload storage path (our digest,
// content-addressed, immutable) with its lineage; expired interactions are deleted per environment retention.
import { readFileSync } from "node:fs";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { insertInteractions, type TInteractionWrite } from "@loraplane/db";
import { seedDeployable, useTestDb } from "@loraplane/db/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { measureDatasetDigest } from "../../src/datasets/index.ts";
import { ValidationError } from "../../src/errors.ts";
import { correctInteraction, createFeedbackDatasetVersion, listDeploymentInteractions, purgeExpiredInteractions } from "../../src/feedback/index.ts";

const t = useTestDb("feedback_datasets");
const dataDir = mkdtempSync(path.join(os.tmpdir(), "lp-fb-"));
const actor = { type: "user" as const, userId: null };
let seed: Awaited<ReturnType<typeof seedDeployable>>;
let deploymentId = "";
let ids: Record<string, string> = {};
const DAY = 86_400_000;
const now = Date.now();

function interaction(requestId: string, over: Partial<TInteractionWrite>): TInteractionWrite {
  return {
    requestId,
    projectId: seed.projectId,
    environmentId: seed.environmentId,
    deploymentId,
    variantId: "var",
    variantRole: "stable",
    modelVersionId: seed.versions[0]!.id,
    endpointName: "qwen-zh",
    operation: "chat/completions",
    prompt: { messages: [{ role: "system", content: "Answer in digits." }, { role: "user", content: `question ${requestId}` }] },
    response: `answer ${requestId}`,
    truncated: false,
    streamed: false,
    tokenId: null,
    userId: null,
    rating: null,
    comment: null,
    ratedAt: null,
    createdAt: new Date(now - 60_000),
    ...over,
  };
}

beforeAll(async () => {
  seed = await seedDeployable(t.db, { versions: 2 });
  const d = await t.db.deployment.create({ data: { projectId: seed.projectId, environmentId: seed.environmentId, endpointName: "qwen-zh", strategy: "canary", policy: {} }, select: { id: true } });
  deploymentId = d.id;
  await insertInteractions(t.db, [
    interaction("up-1", { rating: "up" }),
    interaction("up-2", { rating: "up", variantRole: "canary", modelVersionId: seed.versions[1]!.id }),
    interaction("down-1", { rating: "down" }),
    interaction("none-1", {}),
    interaction("old-up", { rating: "up", createdAt: new Date(now - 40 * DAY) }),
    interaction("completion", { rating: "up", operation: "completions", prompt: { prompt: "2+2=" }, response: "4" }),
  ]);
  const rows = await t.db.interaction.findMany({ select: { id: true, requestId: true } });
  ids = Object.fromEntries(rows.map((r) => [r.requestId, r.id]));
});

describe("feedback → dataset version", () => {
  it("filters by window, rating and variant, and counts what is usable", async () => {
    const all = await listDeploymentInteractions(t.db, deploymentId, {}, { limit: 2 });
    expect(all).toMatchObject({ matched: 6, usable: 4, capture: { enabled: false, retentionDays: 30 } });
    expect(all.items).toHaveLength(2);
    const next = await listDeploymentInteractions(t.db, deploymentId, {}, { limit: 10, cursor: all.nextCursor! });
    expect(next.items).toHaveLength(4);
    const recentDown = await listDeploymentInteractions(t.db, deploymentId, { from: new Date(now - DAY), ratings: ["down"] }, { limit: 10 });
    expect(recentDown.items.map((i) => i.requestId)).toEqual(["down-1"]);
    const canary = await listDeploymentInteractions(t.db, deploymentId, { variantRole: "canary" }, { limit: 10 });
    expect(canary.items.map((i) => i.requestId)).toEqual(["up-2"]);
  });

  it("a reviewer's correction becomes the target; the slice is stored with our digest and its lineage", async () => {
    await correctInteraction(t.db, deploymentId, ids["down-1"]!, "the corrected answer", actor, {});
    const from = new Date(now - DAY);
    const result = await createFeedbackDatasetVersion(
      t.db,
      deploymentId,
      { newDatasetName: "from-feedback", filter: { from, ratings: ["up", "corrected"] }, format: "chat", validationPercent: 0 },
      actor,
      {},
      dataDir,
    );
    expect(result.deduplicated).toBe(false);
    expect(result.version).toMatchObject({ version: "v1", rowCount: 4, format: "chat", sourceDeploymentId: deploymentId });
    expect(result.version.lineage).toMatchObject({ kind: "feedback", deploymentId, window: { from: from.toISOString(), to: null }, filter: { ratings: ["up", "corrected"] }, rows: 4 });
    const dir = fileURLToPath(result.version.uri);
    expect(dir.startsWith(path.join(dataDir, "projects", seed.projectId, "datasets"))).toBe(true);
    const measured = await measureDatasetDigest(dir);
    expect(measured).toMatchObject({ ok: true, sha256: result.version.sha256 });
    const rows = readFileSync(path.join(dir, "train.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { messages: { role: string; content: string }[] });
    const targets = rows.map((r) => r.messages.at(-1)!.content).sort();
    // The thumbs-down answer is replaced by its correction; the 40-day-old row is outside the window.
    expect(targets).toEqual(["4", "answer up-1", "answer up-2", "the corrected answer"]);
    expect(rows.find((r) => r.messages.at(-1)!.content === "4")!.messages[0]).toEqual({ role: "user", content: "2+2=" });
    const audit = await t.db.auditLog.findFirst({ where: { action: "dataset.version.from_feedback", subjectId: result.version.id } });
    expect(audit).not.toBeNull();

    // The same slice again is the same content: no new version.
    const again = await createFeedbackDatasetVersion(t.db, deploymentId, { datasetId: result.dataset.id, filter: { from, ratings: ["up", "corrected"] }, format: "chat", validationPercent: 0 }, actor, {}, dataDir);
    expect(again).toMatchObject({ deduplicated: true, version: { id: result.version.id } });

    // Alpaca rows from the same slice: a new version of the same dataset.
    const alpaca = await createFeedbackDatasetVersion(t.db, deploymentId, { datasetId: result.dataset.id, filter: { from }, format: "alpaca", validationPercent: 0 }, actor, {}, dataDir);
    expect(alpaca.version).toMatchObject({ version: "v2", format: "alpaca", rowCount: 4 });
    const first = JSON.parse(readFileSync(path.join(fileURLToPath(alpaca.version.uri), "train.jsonl"), "utf8").split("\n")[0]!) as Record<string, string>;
    expect(first).toMatchObject({ instruction: expect.stringMatching(/^question |^2\+2=$/), output: expect.any(String) });
  });

  it("refuses a slice with nothing to train on, naming the field, and stores nothing", async () => {
    const before = await t.db.datasetVersion.count();
    const attempt = createFeedbackDatasetVersion(t.db, deploymentId, { newDatasetName: "empty", filter: { ratings: ["unrated"] }, format: "chat", validationPercent: 10 }, actor, {}, dataDir);
    await expect(attempt).rejects.toBeInstanceOf(ValidationError);
    await expect(attempt).rejects.toMatchObject({ issues: [{ path: "filter" }] });
    expect(await t.db.datasetVersion.count()).toBe(before);
    expect(await t.db.dataset.count({ where: { name: "empty" } })).toBe(0);
  });

  it("retention deletes interactions older than the environment's feedbackRetentionDays, and nothing newer", async () => {
    expect(await purgeExpiredInteractions(t.db, new Date(now))).toBe(1);
    expect(await t.db.interaction.findUnique({ where: { requestId: "old-up" } })).toBeNull();
    await t.db.environment.update({ where: { id: seed.environmentId }, data: { feedbackRetentionDays: 1 } });
    expect(await purgeExpiredInteractions(t.db, new Date(now))).toBe(0);
    expect(await purgeExpiredInteractions(t.db, new Date(now + DAY))).toBe(5);
    // A dataset version built from them stays: it is its own immutable copy.
    expect(await t.db.datasetVersion.count({ where: { sourceDeploymentId: deploymentId } })).toBe(2);
  });
});
