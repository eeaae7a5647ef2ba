// The workers delete gateway interactions past their environment's feedbackRetentionDays (at start, then hourly).
import { randomBytes } from "node:crypto";
import { insertInteractions } from "@loraplane/db";
import { seedDeployable, useTestDb } from "@loraplane/db/testing";
import { afterAll, describe, expect, it } from "vitest";
import type { TWorkerApp } from "../src/worker-app.ts";
import { makeDataDirs, startFakeWorker, stopFakeWorker, waitFor } from "./helpers/fixtures.ts";

const t = useTestDb("interaction-retention");
let app: TWorkerApp | undefined;

afterAll(() => stopFakeWorker(app));

describe("interaction retention", () => {
  it("a starting worker deletes interactions older than the environment keeps them, and only those", async () => {
    const seed = await seedDeployable(t.db, { versions: 1 });
    await t.db.environment.update({ where: { id: seed.environmentId }, data: { feedbackRetentionDays: 7 } });
    const d = await t.db.deployment.create({ data: { projectId: seed.projectId, environmentId: seed.environmentId, endpointName: "e", strategy: "canary", policy: {} }, select: { id: true } });
    const row = (requestId: string, daysAgo: number) => ({
      requestId,
      projectId: seed.projectId,
      environmentId: seed.environmentId,
      deploymentId: d.id,
      variantId: "v",
      variantRole: "stable",
      modelVersionId: seed.versions[0]!.id,
      endpointName: "e",
      operation: "chat/completions",
      prompt: { messages: [{ role: "user", content: "q" }] },
      response: "a",
      truncated: false,
      streamed: false,
      tokenId: null,
      userId: null,
      rating: "up" as const,
      comment: null,
      ratedAt: null,
      createdAt: new Date(Date.now() - daysAgo * 86_400_000),
    });
    await insertInteractions(t.db, [row("expired", 8), row("kept", 6)]);
    app = await startFakeWorker(t.db, makeDataDirs(), `lpq-ret-${randomBytes(4).toString("hex")}`);
    await waitFor(async () => (await t.db.interaction.count({ where: { requestId: "expired" } })) === 0, 20_000, "the expired interaction deleted");
    expect(await t.db.interaction.findMany({ select: { requestId: true } })).toEqual([{ requestId: "kept" }]);
  });
});
