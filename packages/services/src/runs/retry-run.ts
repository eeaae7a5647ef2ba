import { planStages, transition, ZPipelineSpec, type TStageName } from "@loraplane/core";
import { ensureStageRun, findLatestStageRun, findRunById, updateRunIf } from "@loraplane/db";
import { z } from "zod";
import { recordAudit, type TActor } from "../audit/record-audit.ts";
import { ConflictError, NotFoundError, parseInput } from "../errors.ts";
import type { TRunDeps } from "./deps.ts";

/**
 * Resumes a failed or cancelled run at the stage where it stopped, as that stage's next attempt. Stages that already
 * succeeded (a finished training, say) are not repeated.
 */
export async function retryRun(deps: TRunDeps, input: { runId: string; actor: TActor }) {
  const { runId } = parseInput(z.object({ runId: z.string().min(1) }), { runId: input.runId });
  const run = await findRunById(deps.db, runId);
  if (!run) throw new NotFoundError(`run ${runId} not found`);
  const spec = ZPipelineSpec.parse(run.resolvedSpec);
  const stages = planStages(spec);
  const stage = (run.currentStage as TStageName | null) ?? stages[0]!;
  const latest = await findLatestStageRun(deps.db, runId, stage);
  const t = transition({ status: run.status, stage, attempt: latest?.attempt ?? 0, stages }, { type: "retry" });
  if (!t.ok) throw new ConflictError(`cannot retry run #${run.number}: ${t.error}`);
  const attempt = t.state.attempt;

  const ok = await deps.db.$transaction(async (tx) => {
    if (!(await updateRunIf(tx, runId, ["failed", "cancelled"], { status: "queued", currentStage: stage, error: null, finishedAt: null, cancelRequestedAt: null }))) {
      return false;
    }
    await ensureStageRun(tx, runId, stage, attempt);
    await recordAudit(tx, input.actor, { projectId: run.projectId, action: "run.retry", subjectType: "run", subjectId: runId, before: { status: run.status }, after: { stage, attempt } });
    return true;
  });
  if (!ok) throw new ConflictError(`run #${run.number} changed while retrying; try again`);
  await deps.queue.enqueueStage({ runId, stage, attempt }).catch(() => undefined);
  return { run: { id: run.id, number: run.number, status: "queued" as const }, stage, attempt };
}
