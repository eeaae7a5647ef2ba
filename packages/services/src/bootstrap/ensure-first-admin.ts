import { type Db, listUserRecords } from "@loraplane/db";
import { createUser } from "../users/index.ts";

export const FIRST_ADMIN_EMAIL = "admin@loraplane.local";

export interface FirstAdmin {
  userId: string;
  email: string;
  /** The generated password, only on the start that created the admin; null on every later start. */
  password: string | null;
}

/**
 * Creates the first admin with a generated password when the install has no active admin yet. The password is returned
 * once for the start command to print; only its argon2 hash is stored.
 */
export async function ensureFirstAdmin(db: Db, options: { email?: string } = {}): Promise<FirstAdmin> {
  const existing = (await listUserRecords(db)).find((u) => u.role === "admin" && u.disabledAt === null);
  if (existing) return { userId: existing.id, email: existing.email, password: null };
  const { user, generatedPassword } = await createUser(
    db,
    { email: options.email ?? FIRST_ADMIN_EMAIL, name: "Administrator", role: "admin" },
    { type: "system", userId: null },
  );
  return { userId: user.id, email: user.email, password: generatedPassword };
}
