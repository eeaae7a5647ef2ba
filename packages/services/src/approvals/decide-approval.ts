import { dutyConflict, transition, ZPipelineSpec, planStages } from "@loraplane/core";
import { decideApprovalIfPending, enqueueWebhookDeliveries, findApprovalById, findRunDuties, findUserById, findRunById, updateRunIf, updateStageRunIf, findLatestStageRun, ensureStageRun } from "@loraplane/db";
import { z } from "zod";
import { recordAudit, type TActor } from "../audit/record-audit.ts";
import { ConflictError, ForbiddenError, NotFoundError, parseInput } from "../errors.ts";
import type { TRunDeps } from "../runs/deps.ts";

const ZDecideApprovalInput = z.object({
  approvalId: z.string().min(1),
  decision: z.enum(["approved", "rejected"]),
  comment: z.string().max(2000).optional(),
});

/**
 * Approves or rejects a pending request. Nobody decides their own request. A run waiting at its approve stage moves
 * on to deploy when approved and ends blocked when rejected; a deployment waiting for approval is handed back to
 * the rollout controller.
 */
export async function decideApproval(
  deps: TRunDeps & { rollout?: { analyseNow(deploymentId: string, reason: string): Promise<unknown> } },
  raw: { approvalId: string; decision: "approved" | "rejected"; comment?: string; actor: TActor }) {
  const input = parseInput(ZDecideApprovalInput, { approvalId: raw.approvalId, decision: raw.decision, comment: raw.comment });
  const approval = await findApprovalById(deps.db, input.approvalId);
  if (!approval) throw new NotFoundError(`approval ${input.approvalId} not found`);
  if (approval.status !== "pending") throw new ConflictError(`approval was already ${approval.status}`);
  if (raw.actor.userId && approval.requestedById === raw.actor.userId) throw new ForbiddenError("you cannot decide your own approval request");
  if (raw.actor.userId && approval.subjectType === "run" && input.decision === "approved") {
    // Separation of duties: the git pusher and the spec's last editor may not approve the run either.
    const [duties, user] = await Promise.all([findRunDuties(deps.db, approval.subjectId), findUserById(deps.db, raw.actor.userId)]);
    const conflict = duties
      ? dutyConflict({ userId: raw.actor.userId, email: user?.email ?? null }, { requesterId: duties.requestedById, pusherId: duties.pushedById, pusherIdentity: duties.pushedByIdentity, specEditorId: duties.specEditedById })
      : null;
    if (conflict) throw new ForbiddenError(conflict);
  }

  const now = new Date();
  let deploymentId: string | null = null;
  let enqueue: { runId: string; stage: "deploy"; attempt: number } | null = null;
  await deps.db.$transaction(async (tx) => {
    const decided = await decideApprovalIfPending(tx, approval.id, { status: input.decision, decidedById: raw.actor.userId, comment: input.comment ?? null, decidedAt: now });
    if (!decided) throw new ConflictError("approval was decided by someone else a moment ago");
    if (approval.subjectType === "run") {
      const run = await findRunById(tx, approval.subjectId);
      if (run && run.status === "waiting_approval") {
        const stages = planStages(ZPipelineSpec.parse(run.resolvedSpec));
        const t = transition(
          { status: run.status, stage: "approve", attempt: 1, stages },
          input.decision === "approved" ? { type: "approved" } : { type: "rejected", reason: `approval rejected${input.comment ? `: ${input.comment}` : ""}` },
        );
        if (!t.ok) throw new ConflictError(t.error);
        const approveStage = await findLatestStageRun(tx, run.id, "approve");
        if (approveStage) {
          await updateStageRunIf(tx, approveStage.id, ["waiting", "running"], {
            status: input.decision === "approved" ? "succeeded" : "failed",
            finishedAt: now,
            error: input.decision === "approved" ? null : t.state.reason ?? null,
          });
        }
        if (input.decision === "approved") {
          await updateRunIf(tx, run.id, ["waiting_approval"], { status: "running", currentStage: "deploy" });
          await ensureStageRun(tx, run.id, "deploy", 1);
          enqueue = { runId: run.id, stage: "deploy", attempt: 1 };
        } else {
          await updateRunIf(tx, run.id, ["waiting_approval"], { status: "blocked", error: t.state.reason ?? null, finishedAt: now });
        }
      }
    } else if (approval.deploymentId) {
      deploymentId = approval.deploymentId;
    }
    await enqueueWebhookDeliveries(tx, approval.projectId, "approval.decided", `approval.decided.${approval.id}`, {
      approvalId: approval.id,
      decision: input.decision,
      decidedBy: raw.actor.userId,
      comment: input.comment ?? null,
      subjectType: approval.subjectType,
      subjectId: approval.subjectId,
      summary: approval.summary,
    });
    await recordAudit(tx, raw.actor, {
      projectId: approval.projectId,
      action: `approval.${input.decision}`,
      subjectType: approval.subjectType,
      subjectId: approval.subjectId,
      after: { approvalId: approval.id, environmentId: approval.environmentId, comment: input.comment ?? null },
    });
  });
  if (enqueue) await deps.queue.enqueueStage(enqueue).catch(() => undefined);
  // The rollout controller also ticks on its own, so a lost wake-up only delays the deployment.
  if (deploymentId) await deps.rollout?.analyseNow(deploymentId, `approval-${approval.id}`).catch(() => undefined);
  return { approval: { id: approval.id, status: input.decision } };
}
