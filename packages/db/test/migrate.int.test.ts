import { cp, mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { checksumOf, MIGRATIONS_DIR, MigrationError, readMigrations, runMigrations } from "../src/migrate/index.ts";
import { createEmptyDatabase, type TestDatabase } from "../src/testing/index.ts";

const databases: TestDatabase[] = [];
async function emptyDb() {
  const db = await createEmptyDatabase("migrate");
  databases.push(db);
  return db;
}
afterEach(async () => {
  await Promise.all(databases.splice(0).map((d) => d.drop()));
});

async function query(url: string, sql: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

describe("migration runner", () => {
  it("creates the schema, records it like Prisma, and applies nothing the second time", async () => {
    const db = await emptyDb();
    const lines: string[] = [];
    const first = await runMigrations({ databaseUrl: db.url, migrationsDir: MIGRATIONS_DIR, log: (l) => lines.push(l) });
    expect(first.applied.length).toBeGreaterThan(0);
    expect(lines.some((l) => l.startsWith("Applying migration"))).toBe(true);

    const rows = await query(db.url, `SELECT migration_name, checksum, finished_at, applied_steps_count FROM "_prisma_migrations"`);
    expect(rows).toHaveLength(first.applied.length);
    const sql = await readFile(path.join(MIGRATIONS_DIR, first.applied[0]!, "migration.sql"), "utf8");
    expect(rows[0].checksum).toBe(checksumOf(sql));
    expect(rows[0].finished_at).toBeInstanceOf(Date);
    expect(rows[0].applied_steps_count).toBe(1);
    const tables = await query(db.url, `SELECT to_regclass('public."PipelineRun"') AS t`);
    expect(tables[0].t).toBe('"PipelineRun"');

    const log2: string[] = [];
    const second = await runMigrations({ databaseUrl: db.url, migrationsDir: MIGRATIONS_DIR, log: (l) => log2.push(l) });
    expect(second.applied).toEqual([]);
    expect(log2.join("\n")).toContain("No pending migrations");
  });

  it("refuses to continue when an applied migration's file has changed", async () => {
    const db = await emptyDb();
    const dir = await mkdtemp(path.join(tmpdir(), "lp-migrations-"));
    await cp(MIGRATIONS_DIR, dir, { recursive: true });
    await runMigrations({ databaseUrl: db.url, migrationsDir: dir });
    const [first] = await readMigrations(dir);
    const file = path.join(dir, first!.name, "migration.sql");
    await writeFile(file, (await readFile(file, "utf8")) + "\n-- edited\n");
    await expect(runMigrations({ databaseUrl: db.url, migrationsDir: dir })).rejects.toThrow(
      new RegExp(`Migration ${first!.name} was modified after it was applied`),
    );
  });

  it("applies a new migration and rolls back a failing one without recording it", async () => {
    const db = await emptyDb();
    const dir = await mkdtemp(path.join(tmpdir(), "lp-migrations-"));
    await cp(MIGRATIONS_DIR, dir, { recursive: true });
    await runMigrations({ databaseUrl: db.url, migrationsDir: dir });
    await mkdir(path.join(dir, "29990101000000_add_note"));
    await writeFile(path.join(dir, "29990101000000_add_note", "migration.sql"), `CREATE TABLE "Note" (id int);\nSELECT 1/0;`);
    await expect(runMigrations({ databaseUrl: db.url, migrationsDir: dir })).rejects.toBeInstanceOf(MigrationError);
    const note = await query(db.url, `SELECT to_regclass('public."Note"') AS t`);
    expect(note[0].t).toBeNull();
    const recorded = await query(db.url, `SELECT 1 FROM "_prisma_migrations" WHERE migration_name = '29990101000000_add_note'`);
    expect(recorded).toHaveLength(0);
  });

  it("serialises concurrent runners: each migration is applied exactly once", async () => {
    const db = await emptyDb();
    const results = await Promise.all(
      Array.from({ length: 4 }, () => runMigrations({ databaseUrl: db.url, migrationsDir: MIGRATIONS_DIR })),
    );
    const appliedCounts = results.map((r) => r.applied.length).sort();
    expect(appliedCounts.filter((n) => n > 0)).toHaveLength(1);
    const rows = await query(db.url, `SELECT migration_name, count(*)::int AS n FROM "_prisma_migrations" GROUP BY 1`);
    expect(rows.every((r) => r.n === 1)).toBe(true);
  });
});
