import { ZPipelineSpec } from "@loraplane/core";
import {
  findArtifactById,
  findDatasetVersionForRun,
  findLatestModelVersion,
  findLatestStageRun,
  findModelVersionOfRun,
  findRunById,
  enqueueWebhookDeliveries,
  insertModelVersion,
  listEvalResults,
  lockModelName,
  type Db,
  type Prisma,
  type TModelVersionRow,
} from "@loraplane/db";
import { ConflictError, NotFoundError } from "../errors.ts";

/** What the eval stage records about the adapter it evaluated (workers/src/engine/workload-stage.ts). */
export interface TEvaluatedAdapter {
  artifactId: string;
  uri: string;
  sha256: string;
}

/**
 * The adapter artifact the run's succeeded eval stage measured, unchanged since: never simply the newest adapter of
 * the run, so an adapter reported after evaluation (or an artifact row rewritten since) is not what gets registered.
 */
async function evaluatedAdapter(db: Db, runId: string) {
  const evalStage = await findLatestStageRun(db, runId, "eval");
  if (evalStage?.status !== "succeeded") throw new ConflictError(`run ${runId} has no succeeded eval stage; only an evaluated adapter is registered`);
  const measured = (evalStage.result as { adapter?: Partial<TEvaluatedAdapter> } | null)?.adapter;
  if (!measured?.artifactId || !measured.sha256) throw new ConflictError(`the eval stage of run ${runId} recorded no adapter digest; only an evaluated adapter is registered`);
  const adapter = await findArtifactById(db, measured.artifactId);
  if (!adapter || adapter.runId !== runId || adapter.kind !== "adapter") throw new ConflictError(`the adapter artifact ${measured.artifactId} that eval measured no longer exists`);
  if (adapter.sha256 !== measured.sha256 || adapter.uri !== measured.uri) {
    throw new ConflictError(`adapter ${adapter.uri} changed after evaluation: eval measured sha256 ${measured.sha256}, the artifact now says ${adapter.sha256 ?? "none"}`);
  }
  return { ...adapter, sha256: measured.sha256 };
}

/**
 * Registers the run's evaluated adapter as the next version of its model, freezing the lineage (run, commit, dataset digest,
 * resolved spec, eval results, parent = the model's previous version). Registering a run again returns its version.
 */
export async function registerModelVersion(db: Db, runId: string): Promise<{ version: TModelVersionRow; created: boolean }> {
  const run = await findRunById(db, runId);
  if (!run) throw new NotFoundError(`run ${runId} not found`);
  const spec = ZPipelineSpec.parse(run.resolvedSpec);
  const modelName = spec.model.name;
  const existing = await findModelVersionOfRun(db, runId, modelName);
  if (existing) return { version: existing, created: false };

  const adapter = await evaluatedAdapter(db, runId);
  const [dataset, evals] = await Promise.all([run.datasetVersionId ? findDatasetVersionForRun(db, run.datasetVersionId) : null, listEvalResults(db, runId)]);

  return db.$transaction(async (tx) => {
    await lockModelName(tx, run.projectId, modelName);
    const again = await findModelVersionOfRun(tx, runId, modelName);
    if (again) return { version: again, created: false };
    const parent = await findLatestModelVersion(tx, run.projectId, modelName);
    const lineage = {
      run: { id: run.id, number: run.number, pipelineId: run.pipelineId, trigger: run.trigger, params: run.params },
      git: { commit: run.gitCommit, ref: run.gitRef },
      dataset: dataset ? { id: dataset.id, name: dataset.dataset.name, version: dataset.version, sha256: dataset.sha256, uri: dataset.uri } : null,
      spec: run.resolvedSpec,
      eval: evals.map((e) => ({ metric: e.metric, value: Number.isFinite(e.value) ? e.value : null, threshold: e.threshold, comparator: e.comparator, blocking: e.blocking, passed: e.passed })),
      adapter: { artifactId: adapter.id, uri: adapter.uri, sha256: adapter.sha256, sizeBytes: adapter.sizeBytes?.toString() ?? null },
      parentVersion: parent ? { id: parent.id, version: parent.version } : null,
    };
    const version = await insertModelVersion(tx, {
      projectId: run.projectId,
      modelName,
      version: (parent?.version ?? 0) + 1,
      runId,
      adapterArtifactId: adapter.id,
      baseModel: spec.model.baseModel,
      gitCommit: run.gitCommit,
      datasetVersionId: run.datasetVersionId,
      parentVersionId: parent?.id ?? null,
      lineage: lineage as Prisma.InputJsonValue,
    });
    await enqueueWebhookDeliveries(tx, run.projectId, "model_version.registered", `model_version.registered.${version.id}`, {
      modelVersionId: version.id,
      modelName,
      version: version.version,
      runId,
      runNumber: run.number,
      gitCommit: run.gitCommit,
      adapterSha256: adapter.sha256,
    });
    return { version, created: true };
  });
}
