import type { DbOrTx } from "../client.ts";
import type { Role } from "../generated/prisma/enums.ts";

const projectSelect = { id: true, slug: true, name: true, description: true, createdAt: true, updatedAt: true } as const;

export type TProjectRow = {
  id: string;
  slug: string;
  name: string;
  description: string | null;
  createdAt: Date;
  updatedAt: Date;
};

export function findProjectById(db: DbOrTx, id: string): Promise<TProjectRow | null> {
  return db.project.findUnique({ where: { id }, select: projectSelect });
}

export function findProjectBySlug(db: DbOrTx, slug: string): Promise<TProjectRow | null> {
  return db.project.findUnique({ where: { slug }, select: projectSelect });
}

/** `projectIds` undefined means every project (global admins). */
export function listProjectRecords(db: DbOrTx, projectIds?: string[]): Promise<TProjectRow[]> {
  return db.project.findMany({
    where: projectIds ? { id: { in: projectIds } } : {},
    select: projectSelect,
    orderBy: { name: "asc" },
  });
}

export function insertProject(
  db: DbOrTx,
  data: { slug: string; name: string; description?: string | null },
): Promise<TProjectRow> {
  return db.project.create({ data, select: projectSelect });
}

export function findMembership(db: DbOrTx, projectId: string, userId: string): Promise<{ role: Role } | null> {
  return db.projectMember.findUnique({ where: { projectId_userId: { projectId, userId } }, select: { role: true } });
}

export function listMembershipsOfUser(db: DbOrTx, userId: string): Promise<{ projectId: string; role: Role }[]> {
  return db.projectMember.findMany({ where: { userId }, select: { projectId: true, role: true } });
}

export function listProjectMembers(
  db: DbOrTx,
  projectId: string,
): Promise<{ userId: string; role: Role; createdAt: Date; user: { email: string; name: string | null } }[]> {
  return db.projectMember.findMany({
    where: { projectId },
    select: { userId: true, role: true, createdAt: true, user: { select: { email: true, name: true } } },
    orderBy: { createdAt: "asc" },
  });
}

export async function upsertMember(db: DbOrTx, projectId: string, userId: string, role: Role): Promise<void> {
  await db.projectMember.upsert({
    where: { projectId_userId: { projectId, userId } },
    create: { projectId, userId, role },
    update: { role },
  });
}

export async function deleteMembersExcept(db: DbOrTx, projectId: string, keepUserIds: string[]): Promise<void> {
  await db.projectMember.deleteMany({ where: { projectId, userId: { notIn: keepUserIds } } });
}
