import type { DbOrTx } from "../client.ts";
import type { EnvironmentTier, ExecutorKind } from "../generated/prisma/enums.ts";

const environmentSelect = {
  id: true,
  projectId: true,
  name: true,
  tier: true,
  namespace: true,
  requiresApproval: true,
  gatewayUrl: true,
  servingBackend: true,
  captureFeedbackData: true,
  feedbackRetentionDays: true,
  createdAt: true,
} as const;

export type TEnvironmentRow = {
  id: string;
  projectId: string;
  name: string;
  tier: EnvironmentTier;
  namespace: string;
  requiresApproval: boolean;
  gatewayUrl: string | null;
  servingBackend: ExecutorKind;
  captureFeedbackData: boolean;
  feedbackRetentionDays: number;
  createdAt: Date;
};

export type TEnvironmentWrite = {
  name?: string;
  tier?: EnvironmentTier;
  namespace?: string;
  requiresApproval?: boolean;
  gatewayUrl?: string | null;
  servingBackend?: ExecutorKind;
  captureFeedbackData?: boolean;
  feedbackRetentionDays?: number;
};

export function listEnvironmentRecords(db: DbOrTx, projectId: string): Promise<TEnvironmentRow[]> {
  return db.environment.findMany({ where: { projectId }, select: environmentSelect, orderBy: { createdAt: "asc" } });
}

export function findEnvironmentById(db: DbOrTx, id: string): Promise<TEnvironmentRow | null> {
  return db.environment.findUnique({ where: { id }, select: environmentSelect });
}

export function insertEnvironment(
  db: DbOrTx,
  data: Required<Pick<TEnvironmentWrite, "name" | "tier" | "namespace">> & TEnvironmentWrite & { projectId: string },
): Promise<TEnvironmentRow> {
  return db.environment.create({ data, select: environmentSelect });
}

export function updateEnvironmentRecord(db: DbOrTx, id: string, data: TEnvironmentWrite): Promise<TEnvironmentRow> {
  return db.environment.update({ where: { id }, data, select: environmentSelect });
}
