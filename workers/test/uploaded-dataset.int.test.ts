// A dataset version uploaded through the upload service is referenced by a pipeline exactly like a registered one:
// prepare finds it under the project's storage prefix, verifies its digest, and the run and model version record it.
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { useTestDb } from "@loraplane/db/testing";
import { createDataset, getDatasetPage, triggerRun, uploadDatasetVersion } from "@loraplane/services";
import { workloadEnvironment } from "@loraplane/config";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLocalExecutor } from "../src/executors/local.ts";
import { startWorkerApp, type TWorkerApp } from "../src/worker-app.ts";
import { FAKE_WORKLOAD, FAKE_WORKLOAD_ENV, makeDataDirs, seedProject, waitFor } from "./helpers/fixtures.ts";

const t = useTestDb("uploaded-dataset");
const dirs = makeDataDirs();
const prefix = `lpq-upl-${randomBytes(4).toString("hex")}`;
let app: TWorkerApp;

beforeAll(async () => {
  app = await startWorkerApp({
    db: t.db,
    redisUrl: "redis://127.0.0.1:6379",
    prefix,
    executor: createLocalExecutor({ dataDir: dirs.workDir, baseEnv: () => workloadEnvironment(FAKE_WORKLOAD_ENV), command: (s) => [process.execPath, FAKE_WORKLOAD, s.command, "--config", "job.json"] }),
    log: pino({ level: "silent" }),
    concurrency: 2,
    reconcileIntervalMs: 1000,
    engine: { pollMs: 50, heartbeatTimeoutS: 3, logTailLines: 5, runTokenTtlS: 3600, publicUrl: "http://127.0.0.1:1" },
  });
});
afterAll(async () => {
  await app.stop();
  await app.queue.stages.obliterate({ force: true }).catch(() => undefined);
});

function multipart(files: Record<string, string>) {
  const form = new FormData();
  for (const [name, text] of Object.entries(files)) form.append("files", new Blob([text]), name);
  const req = new Request("http://upload.test/", { method: "POST", body: form });
  return { body: req.body as AsyncIterable<Uint8Array>, contentType: req.headers.get("content-type"), contentLength: null };
}

describe("pipeline on an uploaded dataset version", () => {
  it("prepare verifies the uploaded files and the run, model version and dataset page record the version", async () => {
    const s = await seedProject(t.db, dirs, { dataset: { name: "uploaded", version: "v1" } });
    const actor = { type: "user" as const, userId: s.userId };
    const dataset = await createDataset(t.db, s.projectId, { name: "uploaded" }, actor);
    const split = (name: string) => readFileSync(path.join(dirs.datasetTemplate, `${name}.jsonl`), "utf8");
    const { version } = await uploadDatasetVersion(t.db, dataset.id, multipart({ "train.jsonl": split("train"), "validation.jsonl": split("validation"), "test.jsonl": split("test") }), actor, {}, {
      dataDir: dirs.workDir,
      maxBytes: 1024 * 1024,
    });
    expect(version.version).toBe("v1");

    const { run } = await triggerRun({ db: t.db, queue: app.queue }, { projectId: s.projectId, pipelineId: s.pipelineId, trigger: "api" });
    const done = await waitFor(async () => {
      const r = await t.db.pipelineRun.findUniqueOrThrow({ where: { id: run.id }, select: { status: true, error: true, datasetVersionId: true } });
      return ["succeeded", "failed", "blocked", "cancelled"].includes(r.status) ? r : null;
    }, 60_000, "the run to finish");
    expect(done).toMatchObject({ status: "succeeded", error: null, datasetVersionId: version.id });
    const prepare = await t.db.stageRun.findFirstOrThrow({ where: { runId: run.id, stage: "prepare" }, select: { result: true } });
    expect(prepare.result).toMatchObject({ datasetVersionId: version.id, datasetSha256: version.sha256 });
    expect(readdirSync((prepare.result as { dataDir: string }).dataDir).sort()).toEqual(["test.jsonl", "train.jsonl", "validation.jsonl"]);
    const mv = await t.db.modelVersion.findFirstOrThrow({ where: { runId: run.id }, select: { id: true, lineage: true } });
    expect(mv.lineage).toMatchObject({ dataset: { sha256: version.sha256, version: "v1" } });

    const page = await getDatasetPage(t.db, dataset.id);
    expect(page.versions[0]!.runs.map((r) => r.id)).toEqual([run.id]);
    expect(page.versions[0]!.modelVersions.map((m) => m.id)).toEqual([mv.id]);
  }, 90_000);
});
