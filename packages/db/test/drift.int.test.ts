// Fails when prisma/schema.prisma changes without a matching migration: the database built from the migrations must
// equal one built straight from the schema (`prisma migrate diff --from-empty`).
import { execFileSync } from "node:child_process";
import path from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { MIGRATIONS_DIR, runMigrations } from "../src/migrate/index.ts";
import { createEmptyDatabase, schemaSnapshot, type TestDatabase } from "../src/testing/index.ts";

const root = path.resolve(MIGRATIONS_DIR, "../..");
const created: TestDatabase[] = [];
afterAll(async () => {
  await Promise.all(created.map((d) => d.drop()));
});

function schemaSqlFromEmpty(schemaFile: string): string {
  return execFileSync(
    process.execPath,
    [path.join(root, "scripts/prisma.mjs"), "migrate", "diff", "--from-empty", "--to-schema-datamodel", schemaFile, "--script"],
    { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
  );
}

describe("schema drift", () => {
  it("prisma/migrations produce exactly the schema in prisma/schema.prisma", async () => {
    const fromMigrations = await createEmptyDatabase("drift_m");
    const fromSchema = await createEmptyDatabase("drift_s");
    created.push(fromMigrations, fromSchema);

    await runMigrations({ databaseUrl: fromMigrations.url, migrationsDir: MIGRATIONS_DIR });
    const sql = schemaSqlFromEmpty(path.join(root, "prisma/schema.prisma"));
    const client = new pg.Client({ connectionString: fromSchema.url });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }

    const [a, b] = await Promise.all([schemaSnapshot(fromMigrations.url), schemaSnapshot(fromSchema.url)]);
    const onlyInMigrations = a.filter((l) => !b.includes(l));
    const onlyInSchema = b.filter((l) => !a.includes(l));
    expect(
      { onlyInMigrations, onlyInSchema },
      "schema.prisma and prisma/migrations differ: run `npm run db:migration:new -- <name>`",
    ).toEqual({ onlyInMigrations: [], onlyInSchema: [] });
  }, 120_000);
});
