import {
  type Db,
  deleteMembersExcept,
  findMembership,
  findProjectById,
  findProjectBySlug,
  findUserById,
  insertProject,
  listMembershipsOfUser,
  listProjectMembers,
  listProjectRecords,
  type Role,
  type TProjectRow,
  upsertMember,
} from "@loraplane/db";
import { ConflictError, NotFoundError, ValidationError } from "../errors.ts";
import { recordAudit, type TActor, type TRequestMeta } from "../audit/index.ts";
import type { TRole } from "../users/roles.ts";

/** The role a user holds in a project: global admins are admin everywhere; others need a membership. */
export async function getProjectRole(db: Db, user: { id: string; globalRole: Role }, projectId: string): Promise<TRole | null> {
  if (user.globalRole === "admin") return (await findProjectById(db, projectId)) ? "admin" : null;
  return (await findMembership(db, projectId, user.id))?.role ?? null;
}

/** Projects a user belongs to with their role; undefined `projectIds` in callers means "all" for global admins. */
export async function listRolesOfUser(db: Db, user: { id: string; globalRole: Role }): Promise<{ projectId: string; role: TRole }[]> {
  if (user.globalRole === "admin") return (await listProjectRecords(db)).map((p) => ({ projectId: p.id, role: "admin" as const }));
  return listMembershipsOfUser(db, user.id);
}

export async function listProjects(db: Db, user: { id: string; globalRole: Role }): Promise<(TProjectRow & { role: TRole })[]> {
  const roles = await listRolesOfUser(db, user);
  const byId = new Map(roles.map((r) => [r.projectId, r.role]));
  const rows = await listProjectRecords(db, user.globalRole === "admin" ? undefined : [...byId.keys()]);
  return rows.map((p) => ({ ...p, role: byId.get(p.id) ?? "admin" }));
}

export async function getProject(db: Db, id: string): Promise<TProjectRow> {
  const project = await findProjectById(db, id);
  if (!project) throw new NotFoundError(`project ${id} not found`);
  return project;
}

/** Creates a project; its creator becomes its admin so somebody can manage it from the start. */
export async function createProject(
  db: Db,
  input: { slug: string; name: string; description?: string | null },
  actor: TActor,
  meta: TRequestMeta = {},
): Promise<TProjectRow> {
  if (await findProjectBySlug(db, input.slug)) {
    throw new ConflictError(`a project with slug "${input.slug}" already exists`, [{ path: "slug", message: "already taken" }]);
  }
  return db.$transaction(async (tx) => {
    const project = await insertProject(tx, input);
    if (actor.userId) await upsertMember(tx, project.id, actor.userId, "admin");
    await recordAudit(tx, actor, { projectId: project.id, action: "project.create", subjectType: "project", subjectId: project.id, after: input }, meta);
    return project;
  });
}

export async function listMembers(db: Db, projectId: string) {
  const rows = await listProjectMembers(db, projectId);
  return rows.map((m) => ({ userId: m.userId, email: m.user.email, name: m.user.name, role: m.role, createdAt: m.createdAt }));
}

/** Replaces the member list. A project keeps at least one admin member so it never becomes unmanageable. */
export async function setMembers(
  db: Db,
  projectId: string,
  members: { userId: string; role: TRole }[],
  actor: TActor,
  meta: TRequestMeta = {},
) {
  const seen = new Set<string>();
  for (const [i, m] of members.entries()) {
    if (seen.has(m.userId)) throw new ValidationError("a user is listed twice", [{ path: `members[${i}].userId`, message: "listed twice" }]);
    seen.add(m.userId);
    if (!(await findUserById(db, m.userId))) {
      throw new ValidationError(`user ${m.userId} not found`, [{ path: `members[${i}].userId`, message: "no such user" }]);
    }
  }
  if (!members.some((m) => m.role === "admin")) {
    throw new ValidationError("a project needs at least one admin", [{ path: "members", message: "must include at least one admin" }]);
  }
  const before = await listMembers(db, projectId);
  await db.$transaction(async (tx) => {
    await deleteMembersExcept(tx, projectId, members.map((m) => m.userId));
    for (const m of members) await upsertMember(tx, projectId, m.userId, m.role);
    await recordAudit(
      tx,
      actor,
      {
        projectId,
        action: "project.members.set",
        subjectType: "project",
        subjectId: projectId,
        before: before.map((m) => ({ userId: m.userId, role: m.role })),
        after: members,
      },
      meta,
    );
  });
  return listMembers(db, projectId);
}
