// Run events reach the webhook outbox in the same transaction as the status change.
import { randomBytes } from "node:crypto";
import { useTestDb } from "@loraplane/db/testing";
import { createPipelineQueue } from "@loraplane/queue";
import { afterAll, expect, it } from "vitest";
import { cancelRun, triggerRun } from "../../src/runs/index.ts";
import { seedPipeline } from "./seed.ts";

const t = useTestDb("run-events");
const queue = createPipelineQueue({ connection: { host: "127.0.0.1", port: 6379 }, prefix: `lpq-runev-${randomBytes(4).toString("hex")}` });
afterAll(async () => {
  await queue.stages.obliterate({ force: true });
  await queue.close();
});

it("cancelling a run queues one run.cancelled delivery per subscribed webhook, naming who cancelled", async () => {
  const s = await seedPipeline(t.db);
  const sub = await t.db.webhookSubscription.create({ data: { projectId: s.projectId, url: "https://hooks.example/x", secretCiphertext: "v1:x", events: ["run.cancelled"] } });
  await t.db.webhookSubscription.create({ data: { projectId: s.projectId, url: "https://hooks.example/y", secretCiphertext: "v1:x", events: ["run.failed"] } });
  const { run } = await triggerRun({ db: t.db, queue }, { projectId: s.projectId, pipelineId: s.pipelineId, trigger: "api" });
  await cancelRun({ db: t.db, queue }, { runId: run.id, actor: { type: "user", userId: s.userId } });
  const deliveries = await t.db.webhookDelivery.findMany({ select: { subscriptionId: true, event: true, eventId: true, payload: true, status: true } });
  expect(deliveries).toEqual([
    { subscriptionId: sub.id, event: "run.cancelled", eventId: `run.cancelled.${run.id}`, status: "pending", payload: expect.objectContaining({ runId: run.id, status: "cancelled", cancelledBy: s.userId }) },
  ]);
});

it("deciding an approval queues approval.decided with the decision, who decided and the comment", async () => {
  const s = await seedPipeline(t.db);
  const env = await t.db.environment.create({ data: { projectId: s.projectId, name: "prod-events", tier: "prod", namespace: "prod" }, select: { id: true } });
  const approver = await t.db.user.create({ data: { email: "approver-events@example.com", role: "admin" }, select: { id: true } });
  const sub = await t.db.webhookSubscription.create({ data: { projectId: s.projectId, url: "https://hooks.example/a", secretCiphertext: "v1:x", events: ["approval.decided"] } });
  const approval = await t.db.approvalRequest.create({ data: { projectId: s.projectId, environmentId: env.id, subjectType: "deployment", subjectId: "d-1", summary: "Deploy m v2 to prod" }, select: { id: true } });
  const { decideApproval } = await import("../../src/approvals/index.ts");
  await decideApproval({ db: t.db, queue }, { approvalId: approval.id, decision: "rejected", comment: "p99 too high in staging", actor: { type: "user", userId: approver.id } });
  const d = await t.db.webhookDelivery.findFirstOrThrow({ where: { subscriptionId: sub.id }, select: { event: true, payload: true } });
  expect(d).toMatchObject({ event: "approval.decided", payload: { approvalId: approval.id, decision: "rejected", decidedBy: approver.id, comment: "p99 too high in staging" } });
});
