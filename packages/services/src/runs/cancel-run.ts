import { transition, type TRunState, type TStageName } from "@loraplane/core";
import { ACTIVE_RUN_STATUSES, enqueueWebhookDeliveries, findLatestStageRun, findRunById, revokeAllRunTokens, updateRunIf, updateStageRunIf } from "@loraplane/db";
import { z } from "zod";
import { recordAudit, type TActor } from "../audit/record-audit.ts";
import { ConflictError, NotFoundError, parseInput } from "../errors.ts";
import type { TRunDeps } from "./deps.ts";

const ZCancelRunInput = z.object({ runId: z.string().min(1), reason: z.string().max(500).optional() });

/**
 * Marks the run cancelled in Postgres at once; the worker that watches its workload sees the status and stops it
 * (process group or Kubernetes Job), and a nudge makes sure some worker looks even if none is watching.
 */
export async function cancelRun(deps: TRunDeps, input: { runId: string; actor: TActor; reason?: string }) {
  const { runId, reason } = parseInput(ZCancelRunInput, { runId: input.runId, reason: input.reason });
  const run = await findRunById(deps.db, runId);
  if (!run) throw new NotFoundError(`run ${runId} not found`);
  const state: TRunState = { status: run.status, stage: run.currentStage as TStageName | null, attempt: 1, stages: [] };
  const t = transition(state, { type: "cancel", reason: reason ?? `cancelled by ${input.actor.type === "system" ? "the system" : "user"}` });
  if (!t.ok) throw new ConflictError(`cannot cancel run #${run.number}: ${t.error}`);

  const now = new Date();
  const updated = await deps.db.$transaction(async (tx) => {
    const ok = await updateRunIf(tx, runId, ACTIVE_RUN_STATUSES, { status: "cancelled", cancelRequestedAt: now, finishedAt: now, error: t.state.reason ?? null });
    if (!ok) return false;
    // Whatever workload still runs is stopped by its watcher; from now on none of it may report.
    await revokeAllRunTokens(tx, runId, now);
    if (run.currentStage) {
      const stage = await findLatestStageRun(tx, runId, run.currentStage);
      // Stages without a live workload end here; a running workload is stopped by its watcher, which then records it.
      if (stage) await updateStageRunIf(tx, stage.id, ["pending", "queued", "waiting"], { status: "cancelled", finishedAt: now, error: "run cancelled" });
    }
    await recordAudit(tx, input.actor, { projectId: run.projectId, action: "run.cancel", subjectType: "run", subjectId: runId, before: { status: run.status }, after: { status: "cancelled" } });
    await enqueueWebhookDeliveries(tx, run.projectId, "run.cancelled", `run.cancelled.${runId}`, {
      runId,
      runNumber: run.number,
      pipelineId: run.pipelineId,
      status: "cancelled",
      reason: t.state.reason ?? null,
      cancelledBy: input.actor.userId,
    });
    return true;
  });
  if (!updated) throw new ConflictError(`run #${run.number} finished before it could be cancelled`);
  await deps.queue.nudgeRun({ runId, reason: "cancel" }).catch(() => undefined);
  return { run: { id: run.id, number: run.number, status: "cancelled" as const } };
}
