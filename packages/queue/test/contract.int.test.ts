import { randomBytes } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { createPipelineQueue, parseJob, QUEUE_NAMES, stageJobId } from "../src/contract.ts";

const prefix = `lpq-contract-${randomBytes(4).toString("hex")}`;
const queue = createPipelineQueue({ connection: { host: "127.0.0.1", port: 6379 }, prefix });

afterAll(async () => {
  await queue.stages.obliterate({ force: true });
  await queue.runs.obliterate({ force: true });
  await queue.close();
});

describe("pipeline queue contract (real Redis)", () => {
  it("a duplicate stage enqueue is a no-op", async () => {
    const job = { runId: "run1", stage: "train" as const, attempt: 1 };
    const ids = await Promise.all(Array.from({ length: 20 }, () => queue.enqueueStage(job)));
    expect(new Set(ids)).toEqual(new Set([stageJobId(job)]));
    expect(await queue.stages.getJobCounts("wait", "active", "delayed")).toMatchObject({ wait: 1 });
    await queue.enqueueStage({ ...job, attempt: 2 });
    expect((await queue.stages.getJobCounts("wait")).wait).toBe(2);
  });

  it("ids never contain ':' (BullMQ reserves it) and carry default options", async () => {
    const id = await queue.nudgeRun({ runId: "run2", reason: "approval.abc" });
    expect(id).not.toContain(":");
    const job = await queue.runs.getJob(id);
    expect(job?.opts.attempts).toBe(5);
    expect(await queue.nudgeRun({ runId: "run2", reason: "approval.abc" })).toBe(id);
    expect((await queue.runs.getJobCounts("wait")).wait).toBe(1);
  });

  it("producers refuse invalid payloads", async () => {
    await expect(queue.enqueueStage({ runId: "r", stage: "bake" as never, attempt: 1 })).rejects.toThrow();
    await expect(queue.enqueueStage({ runId: "a:b", stage: "train", attempt: 1 })).rejects.toThrow();
  });

  it("consumers validate and name the bad field", () => {
    expect(parseJob(QUEUE_NAMES.stages, { id: "1", data: { runId: "r", stage: "eval", attempt: 2 } })).toEqual({ runId: "r", stage: "eval", attempt: 2 });
    expect(() => parseJob(QUEUE_NAMES.stages, { id: "1", data: { runId: "r", stage: "eval", attempt: 0 } })).toThrow(/attempt/);
  });
});
