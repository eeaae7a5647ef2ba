import {
  countAdmins,
  type Db,
  findUserByEmail,
  findUserById,
  findUserCredentials,
  insertUser,
  listUserRecords,
  type TUserRow,
  updateUserRecord,
} from "@loraplane/db";
import { ConflictError, NotFoundError, ValidationError } from "../errors.ts";
import { recordAudit, type TActor, type TRequestMeta } from "../audit/index.ts";
import { generatePassword, hashPassword, timingDummyHash, verifyPassword } from "./password.ts";
import type { TRole } from "./roles.ts";

const MIN_PASSWORD = 12;

function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

/**
 * Creates a user. There is no default password: when none is given one is generated and returned once (the caller
 * shows it, nothing stores it). Users without a password can still sign in through OIDC.
 */
export async function createUser(
  db: Db,
  input: { email: string; name?: string | null; role: TRole; password?: string; generatePassword?: boolean },
  actor: TActor,
  meta: TRequestMeta = {},
): Promise<{ user: TUserRow; generatedPassword: string | null }> {
  const email = normaliseEmail(input.email);
  if (input.password !== undefined && input.password.length < MIN_PASSWORD) {
    throw new ValidationError(`password must be at least ${MIN_PASSWORD} characters`, [
      { path: "password", message: `must be at least ${MIN_PASSWORD} characters` },
    ]);
  }
  if (await findUserByEmail(db, email)) throw new ConflictError(`a user with e-mail ${email} already exists`);
  const generated = input.password === undefined && input.generatePassword !== false ? generatePassword() : null;
  const plain = input.password ?? generated;
  const passwordHash = plain ? await hashPassword(plain) : null;
  const user = await db.$transaction(async (tx) => {
    const created = await insertUser(tx, { email, name: input.name ?? null, role: input.role, passwordHash });
    await recordAudit(tx, actor, { action: "user.create", subjectType: "user", subjectId: created.id, after: { email, role: input.role } }, meta);
    return created;
  });
  return { user, generatedPassword: generated };
}

export async function updateUser(
  db: Db,
  id: string,
  input: { name?: string | null; role?: TRole; disabled?: boolean; password?: string },
  actor: TActor,
  meta: TRequestMeta = {},
): Promise<TUserRow> {
  const before = await findUserById(db, id);
  if (!before) throw new NotFoundError(`user ${id} not found`);
  if (input.password !== undefined && input.password.length < MIN_PASSWORD) {
    throw new ValidationError(`password must be at least ${MIN_PASSWORD} characters`, [
      { path: "password", message: `must be at least ${MIN_PASSWORD} characters` },
    ]);
  }
  const demotesAdmin = before.role === "admin" && ((input.role && input.role !== "admin") || input.disabled === true);
  if (demotesAdmin && (await countAdmins(db)) <= 1) {
    throw new ConflictError("this is the last active admin; make another user admin first");
  }
  const passwordHash = input.password !== undefined ? await hashPassword(input.password) : undefined;
  return db.$transaction(async (tx) => {
    const after = await updateUserRecord(tx, id, {
      ...(input.name !== undefined ? { name: input.name } : {}),
      ...(input.role ? { role: input.role } : {}),
      ...(input.disabled !== undefined ? { disabledAt: input.disabled ? (before.disabledAt ?? new Date()) : null } : {}),
      ...(passwordHash ? { passwordHash } : {}),
    });
    await recordAudit(
      tx,
      actor,
      {
        action: "user.update",
        subjectType: "user",
        subjectId: id,
        before: { name: before.name, role: before.role, disabled: before.disabledAt !== null },
        after: { name: after.name, role: after.role, disabled: after.disabledAt !== null, passwordChanged: passwordHash !== undefined },
      },
      meta,
    );
    return after;
  });
}

export function listUsers(db: Db): Promise<TUserRow[]> {
  return listUserRecords(db);
}

/** Credentials check for the login form. Unknown e-mail, wrong password and disabled user look the same to the caller. */
export async function authenticatePassword(db: Db, email: string, password: string): Promise<TUserRow | null> {
  const user = await findUserCredentials(db, normaliseEmail(email));
  if (!user?.passwordHash) {
    await verifyPassword(await timingDummyHash(), password);
    return null;
  }
  const ok = await verifyPassword(user.passwordHash, password);
  if (!ok || user.disabledAt) return null;
  const { passwordHash: _hash, ...rest } = user;
  return rest;
}
