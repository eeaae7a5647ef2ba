// Which project an object belongs to: the API authorizes every by-id request against that project.
import type { DbOrTx } from "../client.ts";

export type TOwnedKind =
  | "dataset"
  | "pipeline"
  | "run"
  | "artifact"
  | "model_version"
  | "environment"
  | "deployment"
  | "approval"
  | "webhook"
  | "webhook_delivery"
  | "release"
  | "sweep";

export async function findProjectIdOf(db: DbOrTx, kind: TOwnedKind, id: string): Promise<string | null> {
  const where = { where: { id }, select: { projectId: true } } as const;
  switch (kind) {
    case "dataset":
      return (await db.dataset.findUnique(where))?.projectId ?? null;
    case "pipeline":
      return (await db.pipeline.findUnique(where))?.projectId ?? null;
    case "run":
      return (await db.pipelineRun.findUnique(where))?.projectId ?? null;
    case "artifact":
      return (await db.artifact.findUnique({ where: { id }, select: { run: { select: { projectId: true } } } }))?.run.projectId ?? null;
    case "model_version":
      return (await db.modelVersion.findUnique(where))?.projectId ?? null;
    case "environment":
      return (await db.environment.findUnique(where))?.projectId ?? null;
    case "deployment":
      return (await db.deployment.findUnique(where))?.projectId ?? null;
    case "approval":
      return (await db.approvalRequest.findUnique(where))?.projectId ?? null;
    case "webhook":
      return (await db.webhookSubscription.findUnique(where))?.projectId ?? null;
    case "webhook_delivery":
      return (await db.webhookDelivery.findUnique({ where: { id }, select: { subscription: { select: { projectId: true } } } }))?.subscription.projectId ?? null;
    case "release":
      return (await db.release.findUnique(where))?.projectId ?? null;
    case "sweep":
      return (await db.sweep.findUnique(where))?.projectId ?? null;
  }
}
