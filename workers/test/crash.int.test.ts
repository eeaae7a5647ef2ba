import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { useTestDb } from "@loraplane/db/testing";
import { createPipelineQueue } from "@loraplane/queue";
import { triggerRun } from "@loraplane/services";
import { afterAll, describe, expect, it } from "vitest";
import { makeDataDirs, seedProject, waitFor } from "./helpers/fixtures.ts";

const t = useTestDb("crash");
const dirs = makeDataDirs();
const prefix = `lpq-crash-${randomBytes(4).toString("hex")}`;
const queue = createPipelineQueue({ connection: { host: "127.0.0.1", port: 6379 }, prefix });
const children: ChildProcess[] = [];

function startWorker(): Promise<ChildProcess> {
  // node itself with tsx's loader, not the tsx CLI: the CLI runs the script in a child process, and kill -9 of the CLI
  // would leave the real worker running.
  const child = spawn(process.execPath, ["--import", "tsx", path.join(import.meta.dirname, "helpers/worker-process.ts")], {
    env: { ...process.env, DATABASE_URL: t.url, QUEUE_PREFIX: prefix, WORK_DIR: dirs.workDir, FAKE_STEP_MS: "15", FAKE_EVAL_MS: "4000" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.stdout!.on("data", (d: Buffer) => d.toString().includes("worker ready") && resolve(child));
    child.once("exit", (code) => reject(new Error(`worker exited early (${code})`)));
  });
}

afterAll(async () => {
  for (const c of children) c.kill("SIGKILL");
  await queue.stages.obliterate({ force: true }).catch(() => undefined);
  await queue.close();
});

describe("kill -9 of the worker during a stage", () => {
  it("a restarted worker re-attaches: the run completes with exactly one launch per attempt and nothing lost", async () => {
    const s = await seedProject(t.db, dirs, { training: { maxSteps: 150 } });
    let worker = await startWorker();
    const { run } = await triggerRun({ db: t.db, queue }, { projectId: s.projectId, pipelineId: s.pipelineId, trigger: "api" });

    for (const stage of ["train", "eval"] as const) {
      await waitFor(() => t.db.stageRun.findFirst({ where: { runId: run.id, stage, status: "running", externalId: { not: null } } }), 30_000, `${stage} running`);
      worker.kill("SIGKILL");
      await new Promise((r) => worker.once("exit", r));
      worker = await startWorker();
    }

    const done = await waitFor(async () => {
      const r = await t.db.pipelineRun.findUniqueOrThrow({ where: { id: run.id }, select: { status: true, error: true } });
      return r.status !== "running" && r.status !== "queued" ? r : null;
    }, 60_000, "run finished");
    expect(done).toEqual({ status: "succeeded", error: null });
    for (const stage of ["train", "eval"]) {
      expect(readFileSync(path.join(dirs.workDir, "runs", run.id, `${stage}-1`, "launches.log"), "utf8").trim().split("\n")).toHaveLength(1);
    }
    expect(await t.db.stageRun.count({ where: { runId: run.id } })).toBe(5);
    expect(await t.db.metricPoint.count({ where: { series: { runId: run.id, key: "train/loss" } } })).toBe(150);
    expect(await t.db.modelVersion.count({ where: { runId: run.id } })).toBe(1);
  });
});
