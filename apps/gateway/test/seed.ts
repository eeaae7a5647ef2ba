import type { Db } from "@loraplane/db";

/** Inserts an API token for `userId` and returns its secret (the table stores only the sha256). */
export async function seedToken(db: Db, userId: string, scopes: string[], projectId: string | null = null): Promise<string> {
  const { createHash, randomBytes } = await import("node:crypto");
  const secret = `lp_${randomBytes(24).toString("base64url")}`;
  await db.apiToken.create({ data: { name: "test", prefix: secret.slice(0, 8), secretHash: createHash("sha256").update(secret).digest("hex"), scopes, userId, projectId } });
  return secret;
}
