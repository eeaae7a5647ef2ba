import type { DbOrTx } from "../client.ts";
import type { Role } from "../generated/prisma/enums.ts";

const tokenSelect = {
  id: true,
  name: true,
  prefix: true,
  scopes: true,
  userId: true,
  projectId: true,
  expiresAt: true,
  revokedAt: true,
  lastUsedAt: true,
  createdAt: true,
} as const;

export type TApiTokenRow = {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  userId: string;
  projectId: string | null;
  expiresAt: Date | null;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
  createdAt: Date;
};

export function insertApiToken(
  db: DbOrTx,
  data: {
    name: string;
    prefix: string;
    secretHash: string;
    scopes: string[];
    userId: string;
    projectId?: string | null;
    expiresAt?: Date | null;
  },
): Promise<TApiTokenRow> {
  return db.apiToken.create({ data, select: tokenSelect });
}

export function findApiTokenByHash(
  db: DbOrTx,
  secretHash: string,
): Promise<(TApiTokenRow & { user: { id: string; email: string; role: Role; disabledAt: Date | null } }) | null> {
  return db.apiToken.findUnique({
    where: { secretHash },
    select: { ...tokenSelect, user: { select: { id: true, email: true, role: true, disabledAt: true } } },
  });
}

/**
 * The gateway's token lookup: the token, its owner's global role and the projects the owner is a member of, read in
 * one query so tenancy is decided with what the token was checked against (and cached with it).
 */
export async function findInferenceTokenByHash(
  db: DbOrTx,
  secretHash: string,
): Promise<(TApiTokenRow & { user: { id: string; role: Role; disabledAt: Date | null; memberProjectIds: string[] } }) | null> {
  const row = await db.apiToken.findUnique({
    where: { secretHash },
    select: { ...tokenSelect, user: { select: { id: true, role: true, disabledAt: true, memberships: { select: { projectId: true } } } } },
  });
  if (!row) return null;
  const { memberships, ...user } = row.user;
  return { ...row, user: { ...user, memberProjectIds: memberships.map((m) => m.projectId) } };
}

export function findApiTokenById(db: DbOrTx, id: string): Promise<TApiTokenRow | null> {
  return db.apiToken.findUnique({ where: { id }, select: tokenSelect });
}

export function listApiTokenRecords(db: DbOrTx, filter: { userId?: string }): Promise<TApiTokenRow[]> {
  return db.apiToken.findMany({ where: filter, select: tokenSelect, orderBy: { createdAt: "desc" } });
}

export async function revokeApiTokenRecord(db: DbOrTx, id: string, at: Date): Promise<void> {
  await db.apiToken.updateMany({ where: { id, revokedAt: null }, data: { revokedAt: at } });
}

/** Records use at most once a minute per token, so a busy CI job does not turn every request into a write. */
export async function touchApiToken(db: DbOrTx, id: string, at: Date): Promise<void> {
  await db.apiToken.updateMany({
    where: { id, OR: [{ lastUsedAt: null }, { lastUsedAt: { lt: new Date(at.getTime() - 60_000) } }] },
    data: { lastUsedAt: at },
  });
}
