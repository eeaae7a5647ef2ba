import type { DbOrTx } from "../client.ts";

/** The user linked to an external identity: `provider` names the issuer ("oidc:<issuer URL>"), the id is its `sub`. */
export async function findUserByExternalAccount(
  db: DbOrTx,
  provider: string,
  providerAccountId: string,
): Promise<{ id: string; email: string; disabledAt: Date | null } | null> {
  const row = await db.account.findUnique({
    where: { provider_providerAccountId: { provider, providerAccountId } },
    select: { user: { select: { id: true, email: true, disabledAt: true } } },
  });
  return row?.user ?? null;
}

export function countExternalAccountsOfUser(db: DbOrTx, userId: string, provider: string): Promise<number> {
  return db.account.count({ where: { userId, provider } });
}

export async function insertExternalAccount(db: DbOrTx, data: { userId: string; provider: string; providerAccountId: string }): Promise<void> {
  await db.account.create({ data: { ...data, type: "oidc" }, select: { id: true } });
}
