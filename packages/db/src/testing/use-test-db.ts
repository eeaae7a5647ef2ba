import { afterAll, beforeAll } from "vitest";
import type { PrismaClient } from "../generated/prisma/client.ts";
import { createPrismaClient } from "../client.ts";
import { createTestDatabase, type TestDatabase } from "./databases.ts";

/**
 * Gives the calling test file its own migrated database and a Prisma client on it; both are dropped after the file.
 * Read `.db`/`.url` inside tests or hooks (they are set in beforeAll).
 */
export function useTestDb(label?: string): { readonly db: PrismaClient; readonly url: string } {
  let database: TestDatabase | undefined;
  let client: PrismaClient | undefined;
  beforeAll(async () => {
    database = await createTestDatabase(label);
    client = createPrismaClient({ url: database.url, poolSize: 5 });
  });
  afterAll(async () => {
    await client?.$disconnect();
    await database?.drop();
  });
  return {
    get db() {
      if (!client) throw new Error("useTestDb: the database is created in beforeAll; use it inside tests or hooks");
      return client;
    },
    get url() {
      if (!database) throw new Error("useTestDb: the database is created in beforeAll");
      return database.url;
    },
  };
}
