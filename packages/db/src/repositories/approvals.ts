// Approval requests. One per (subject, environment): asking twice finds the first request.
import type { DbOrTx } from "../client.ts";
import type { Prisma } from "../generated/prisma/client.ts";
import type { ApprovalStatus } from "../generated/prisma/enums.ts";

export const approvalSelect = {
  id: true,
  projectId: true,
  environmentId: true,
  subjectType: true,
  subjectId: true,
  deploymentId: true,
  summary: true,
  status: true,
  requestedById: true,
  decidedById: true,
  comment: true,
  createdAt: true,
  decidedAt: true,
} as const;
export type TApprovalRow = Prisma.ApprovalRequestGetPayload<{ select: typeof approvalSelect }>;

export function ensureApprovalRequest(
  db: DbOrTx,
  data: { projectId: string; environmentId: string; subjectType: string; subjectId: string; summary: string; requestedById: string | null; deploymentId?: string | null },
): Promise<TApprovalRow> {
  return db.approvalRequest.upsert({
    where: { subjectType_subjectId_environmentId: { subjectType: data.subjectType, subjectId: data.subjectId, environmentId: data.environmentId } },
    create: data,
    update: {},
    select: approvalSelect,
  });
}

export function findApprovalById(db: DbOrTx, id: string): Promise<TApprovalRow | null> {
  return db.approvalRequest.findUnique({ where: { id }, select: approvalSelect });
}

export function findApprovalForSubject(db: DbOrTx, subjectType: string, subjectId: string, environmentId: string): Promise<TApprovalRow | null> {
  return db.approvalRequest.findUnique({ where: { subjectType_subjectId_environmentId: { subjectType, subjectId, environmentId } }, select: approvalSelect });
}

/** Decides a pending request; false when someone else decided it first. */
export async function decideApprovalIfPending(
  db: DbOrTx,
  id: string,
  data: { status: Extract<ApprovalStatus, "approved" | "rejected" | "cancelled">; decidedById: string | null; comment: string | null; decidedAt: Date },
): Promise<boolean> {
  const res = await db.approvalRequest.updateMany({ where: { id, status: "pending" }, data });
  return res.count === 1;
}

export function findEnvironmentsByName(db: DbOrTx, projectId: string, names: readonly string[]) {
  return db.environment.findMany({
    where: { projectId, name: { in: [...names] } },
    select: { id: true, name: true, tier: true, requiresApproval: true, namespace: true, servingBackend: true },
  });
}
