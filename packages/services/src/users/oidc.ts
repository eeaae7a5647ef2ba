import {
  countExternalAccountsOfUser,
  type Db,
  findUserByExternalAccount,
  findUserCredentials,
  insertExternalAccount,
  insertUser,
} from "@loraplane/db";
import { recordAudit, type TRequestMeta } from "../audit/index.ts";

/** What the OIDC provider asserted in its ID token, as next-auth hands it over. */
export type TOidcIdentity = { issuer: string; subject: string; email?: string | null; emailVerified?: unknown; name?: string | null };

export type TOidcRefusal = "email_missing" | "email_unverified" | "password_account" | "linked_elsewhere" | "disabled";
export type TOidcSignIn = { ok: true; userId: string; created: boolean; linked: boolean } | { ok: false; reason: TOidcRefusal };

/** Account.provider for an issuer: one row per (issuer, subject), so two issuers' equal `sub`s never meet. */
export function oidcProviderKey(issuer: string): string {
  return `oidc:${issuer.replace(/\/+$/, "")}`;
}

const system = { type: "system" as const, userId: null };

/**
 * Maps an OIDC sign-in to a Loraplane user by (issuer, subject) — never by e-mail alone:
 * - a linked identity signs in as its user (unless disabled);
 * - an unlinked identity needs a verified e-mail (`email_verified: true`); it then creates a viewer, or links to an
 *   existing user with that e-mail only when that user has no password and no other identity at this issuer (an
 *   account an admin created for SSO). A password account is never taken over by an identity provider's e-mail claim.
 * Every refusal and every new link is audited.
 */
export async function signInWithOidc(db: Db, identity: TOidcIdentity, meta: TRequestMeta = {}): Promise<TOidcSignIn> {
  const provider = oidcProviderKey(identity.issuer);
  const refuse = async (reason: TOidcRefusal, subjectId: string | null = null): Promise<TOidcSignIn> => {
    await recordAudit(
      db,
      system,
      { action: "auth.oidc_refused", subjectType: "user", subjectId, after: { reason, issuer: identity.issuer, subject: identity.subject, email: identity.email ?? null } },
      meta,
    );
    return { ok: false, reason };
  };

  const linked = await findUserByExternalAccount(db, provider, identity.subject);
  if (linked) return linked.disabledAt ? refuse("disabled", linked.id) : { ok: true, userId: linked.id, created: false, linked: false };

  const email = identity.email?.trim().toLowerCase();
  if (!email) return refuse("email_missing");
  // Some providers send the claim as the string "true".
  if (identity.emailVerified !== true && identity.emailVerified !== "true") return refuse("email_unverified");

  const existing = await findUserCredentials(db, email);
  if (existing) {
    if (existing.passwordHash) return refuse("password_account", existing.id);
    if (existing.disabledAt) return refuse("disabled", existing.id);
    if ((await countExternalAccountsOfUser(db, existing.id, provider)) > 0) return refuse("linked_elsewhere", existing.id);
  }
  const link = { provider, providerAccountId: identity.subject };
  return db.$transaction(async (tx) => {
    const user = existing ?? (await insertUser(tx, { email, name: identity.name ?? null, role: "viewer", passwordHash: null }));
    if (!existing) await recordAudit(tx, system, { action: "user.create", subjectType: "user", subjectId: user.id, after: { email, role: "viewer", via: "oidc" } }, meta);
    await insertExternalAccount(tx, { userId: user.id, ...link });
    await recordAudit(tx, system, { action: "auth.oidc_link", subjectType: "user", subjectId: user.id, after: { issuer: identity.issuer, subject: identity.subject, email } }, meta);
    return { ok: true as const, userId: user.id, created: !existing, linked: true };
  });
}
