import { createHash, randomBytes } from "node:crypto";
import {
  type Db,
  findApiTokenByHash,
  findApiTokenById,
  findUserById,
  insertApiToken,
  listApiTokenRecords,
  revokeApiTokenRecord,
  type Role,
  type TApiTokenRow,
  touchApiToken,
} from "@loraplane/db";
import { ForbiddenError, NotFoundError, ValidationError } from "../errors.ts";
import { recordAudit, type TActor, type TRequestMeta } from "../audit/index.ts";
import { scopeGrants, type TScope } from "./scopes.ts";

const TOKEN_PREFIX = "lp_";
// "lp_" + 43 base64url characters (32 random bytes). The display prefix is long enough to tell tokens apart and far
// too short to help guess the rest.
const DISPLAY_PREFIX_LENGTH = TOKEN_PREFIX.length + 6;

export function hashTokenSecret(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

export function looksLikeApiToken(value: string): boolean {
  return /^lp_[A-Za-z0-9_-]{43}$/.test(value);
}

/** Creates a token for `userId`. The secret is returned once; only its sha256 is stored. */
export async function createApiToken(
  db: Db,
  input: { name: string; userId: string; scopes: TScope[]; projectId?: string | null; expiresAt?: Date | null },
  actor: TActor,
  meta: TRequestMeta = {},
): Promise<{ token: TApiTokenRow; secret: string }> {
  if (input.expiresAt && input.expiresAt.getTime() <= Date.now()) {
    throw new ValidationError("expiresAt must be in the future", [{ path: "expiresAt", message: "must be in the future" }]);
  }
  if (!(await findUserById(db, input.userId))) throw new NotFoundError(`user ${input.userId} not found`);
  const secret = TOKEN_PREFIX + randomBytes(32).toString("base64url");
  const token = await db.$transaction(async (tx) => {
    const created = await insertApiToken(tx, {
      name: input.name,
      prefix: secret.slice(0, DISPLAY_PREFIX_LENGTH),
      secretHash: hashTokenSecret(secret),
      scopes: [...new Set(input.scopes)],
      userId: input.userId,
      projectId: input.projectId ?? null,
      expiresAt: input.expiresAt ?? null,
    });
    await recordAudit(
      tx,
      actor,
      {
        projectId: created.projectId,
        action: "token.create",
        subjectType: "api_token",
        subjectId: created.id,
        after: { name: created.name, scopes: created.scopes, expiresAt: created.expiresAt, ownerId: created.userId },
      },
      meta,
    );
    return created;
  });
  return { token, secret };
}

export type TTokenIdentity = {
  tokenId: string;
  userId: string;
  email: string;
  globalRole: Role;
  scopes: string[];
  projectId: string | null;
};

/** Resolves a Bearer secret; revoked, expired, unknown tokens and disabled owners all answer null. */
export async function authenticateApiToken(db: Db, secret: string, now = new Date()): Promise<TTokenIdentity | null> {
  if (!looksLikeApiToken(secret)) return null;
  const row = await findApiTokenByHash(db, hashTokenSecret(secret));
  if (!row || row.revokedAt || row.user.disabledAt) return null;
  if (row.expiresAt && row.expiresAt.getTime() <= now.getTime()) return null;
  await touchApiToken(db, row.id, now);
  return {
    tokenId: row.id,
    userId: row.user.id,
    email: row.user.email,
    globalRole: row.user.role,
    scopes: row.scopes,
    projectId: row.projectId,
  };
}

export function listApiTokens(db: Db, filter: { userId?: string }): Promise<TApiTokenRow[]> {
  return listApiTokenRecords(db, filter);
}

export function getApiToken(db: Db, id: string): Promise<TApiTokenRow | null> {
  return findApiTokenById(db, id);
}

export async function revokeApiToken(db: Db, id: string, actor: TActor, meta: TRequestMeta = {}): Promise<TApiTokenRow> {
  const token = await findApiTokenById(db, id);
  if (!token) throw new NotFoundError(`token ${id} not found`);
  return db.$transaction(async (tx) => {
    await revokeApiTokenRecord(tx, id, new Date());
    await recordAudit(
      tx,
      actor,
      { projectId: token.projectId, action: "token.revoke", subjectType: "api_token", subjectId: id, before: { revokedAt: token.revokedAt } },
      meta,
    );
    return (await findApiTokenById(tx, id))!;
  });
}

/**
 * What a token may mint when a token (not a browser session) creates another: never more than itself. A
 * project-bound token mints only tokens bound to the same project, and no token grants a scope it does not hold
 * itself — otherwise a leaked project admin token could become an unbound, all-project credential.
 */
export function checkTokenMinting(
  creator: { via: "session" | "token"; scopes: readonly string[] | null; tokenProjectId: string | null },
  requested: { scopes: readonly TScope[]; projectId: string | null },
): void {
  if (creator.via !== "token") return;
  if (creator.tokenProjectId && requested.projectId !== creator.tokenProjectId) {
    throw new ForbiddenError("a project-bound token can only create tokens bound to the same project", [
      { path: "projectId", message: `must be ${creator.tokenProjectId} (the project this token is bound to)` },
    ]);
  }
  const missing = requested.scopes.filter((s) => !scopeGrants(creator.scopes ?? [], s));
  if (missing.length > 0) {
    throw new ForbiddenError(`a token cannot grant scopes it does not hold: ${missing.join(", ")}`, [
      { path: "scopes", message: `not held by the creating token: ${missing.join(", ")}` },
    ]);
  }
}

/** A project-bound token reaches only tokens bound to its own project (listing and revoking). */
export function tokenVisibleTo(creator: { via: "session" | "token"; tokenProjectId: string | null }, token: { projectId: string | null }): boolean {
  return creator.via !== "token" || !creator.tokenProjectId || token.projectId === creator.tokenProjectId;
}
