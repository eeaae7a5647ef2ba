import type { DbOrTx } from "../client.ts";
import type { Role } from "../generated/prisma/enums.ts";

const userSelect = {
  id: true,
  email: true,
  name: true,
  role: true,
  disabledAt: true,
  createdAt: true,
} as const;

export type TUserRow = { id: string; email: string; name: string | null; role: Role; disabledAt: Date | null; createdAt: Date };

export function findUserById(db: DbOrTx, id: string): Promise<TUserRow | null> {
  return db.user.findUnique({ where: { id }, select: userSelect });
}

export function findUserByEmail(db: DbOrTx, email: string): Promise<TUserRow | null> {
  return db.user.findUnique({ where: { email }, select: userSelect });
}

/** A user with the session epoch their browser sessions must carry (bumped by sign-out and password changes). */
export function findSessionUser(db: DbOrTx, id: string): Promise<(TUserRow & { sessionEpoch: number }) | null> {
  return db.user.findUnique({ where: { id }, select: { ...userSelect, sessionEpoch: true } });
}

/** Ends every browser session of a user: sessions carry the epoch they were issued under. */
export async function bumpSessionEpoch(db: DbOrTx, id: string): Promise<void> {
  await db.user.update({ where: { id }, data: { sessionEpoch: { increment: 1 } }, select: { id: true } });
}

/** The only read that returns the password hash: used by the credentials login and nothing else. */
export function findUserCredentials(
  db: DbOrTx,
  email: string,
): Promise<(TUserRow & { passwordHash: string | null }) | null> {
  return db.user.findUnique({ where: { email }, select: { ...userSelect, passwordHash: true } });
}

export function insertUser(
  db: DbOrTx,
  data: { email: string; name?: string | null; passwordHash?: string | null; role: Role },
): Promise<TUserRow> {
  return db.user.create({ data, select: userSelect });
}

export function updateUserRecord(
  db: DbOrTx,
  id: string,
  data: { name?: string | null; role?: Role; passwordHash?: string; disabledAt?: Date | null },
): Promise<TUserRow> {
  // A new password ends the sessions signed in with the old one.
  const epoch = data.passwordHash !== undefined ? { sessionEpoch: { increment: 1 } } : {};
  return db.user.update({ where: { id }, data: { ...data, ...epoch }, select: userSelect });
}

export function listUserRecords(db: DbOrTx): Promise<TUserRow[]> {
  return db.user.findMany({ select: userSelect, orderBy: { createdAt: "asc" } });
}

export function countAdmins(db: DbOrTx): Promise<number> {
  return db.user.count({ where: { role: "admin", disabledAt: null } });
}
