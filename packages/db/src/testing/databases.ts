// Test databases: one migrated template per migration set, cloned for every test file, so integration test files
// run in parallel on real Postgres without seeing each other's rows.
import { createHash, randomBytes } from "node:crypto";
import pg from "pg";
import { MIGRATIONS_DIR, readMigrations, runMigrations } from "../migrate/index.ts";

// Tests read the server from here and nowhere else; CI and developers point it elsewhere with TEST_DATABASE_URL.
// eslint-disable-next-line no-restricted-properties -- test harness, not a product process
export const TEST_SERVER_URL = process.env.TEST_DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";

export function databaseUrl(name: string): string {
  const url = new URL(TEST_SERVER_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

async function withAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: TEST_SERVER_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Name of the template for the current migrations; a changed migration set gets a fresh template. */
export async function templateName(): Promise<string> {
  const files = await readMigrations(MIGRATIONS_DIR);
  const digest = createHash("sha256");
  for (const file of files) digest.update(file.name).update(file.checksum);
  return `lp_tpl_${digest.digest("hex").slice(0, 16)}`;
}

export async function ensureTemplate(): Promise<string> {
  const name = await templateName();
  await withAdmin(async (admin) => {
    await admin.query("SELECT pg_advisory_lock(727073)");
    try {
      const exists = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
      if (exists.rowCount) return;
      const building = `${name}_build_${randomBytes(3).toString("hex")}`;
      await admin.query(`CREATE DATABASE "${building}"`);
      await runMigrations({ databaseUrl: databaseUrl(building), migrationsDir: MIGRATIONS_DIR });
      // Renamed only once complete, so an interrupted build never leaves a half-migrated template behind.
      await admin.query(`ALTER DATABASE "${building}" RENAME TO "${name}"`);
    } finally {
      await admin.query("SELECT pg_advisory_unlock(727073)");
    }
  });
  return name;
}

// The creation time is part of the name so a cleanup can tell abandoned databases from ones a running suite uses.
function testDatabaseName(label: string): string {
  const slug = label.replace(/[^a-z0-9]/gi, "").slice(0, 20).toLowerCase();
  return `lp_test_${slug}_${Math.floor(Date.now() / 1000).toString(36)}_${randomBytes(3).toString("hex")}`;
}

const STALE_AFTER_SECONDS = 3 * 3600;

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

export async function createTestDatabase(label = "t"): Promise<TestDatabase> {
  const template = await ensureTemplate();
  const name = testDatabaseName(label);
  await withAdmin(async (admin) => {
    for (let attempt = 0; ; attempt++) {
      try {
        await admin.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`);
        return;
      } catch (error) {
        // 55006: another clone of the same template is in progress; it takes milliseconds.
        if ((error as { code?: string }).code !== "55006" || attempt > 50) throw error;
        await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
      }
    }
  });
  return { name, url: databaseUrl(name), drop: () => dropDatabase(name) };
}

export async function createEmptyDatabase(label = "empty"): Promise<TestDatabase> {
  const name = testDatabaseName(label);
  await withAdmin((admin) => admin.query(`CREATE DATABASE "${name}"`));
  return { name, url: databaseUrl(name), drop: () => dropDatabase(name) };
}

export async function dropDatabase(name: string): Promise<void> {
  await withAdmin((admin) => admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
}

/**
 * Drops test databases left behind by crashed or interrupted runs. Suites of other packages may be running at the same
 * time, so only databases older than a few hours go; templates are only dropped when nothing is cloning them.
 */
export async function dropStaleTestDatabases(keepTemplate: string): Promise<void> {
  const now = Date.now() / 1000;
  await withAdmin(async (admin) => {
    const { rows } = await admin.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE 'lp\\_test\\_%'`);
    for (const { datname } of rows) {
      const created = parseInt(datname.split("_").at(-2) ?? "", 36);
      if (Number.isFinite(created) && now - created > STALE_AFTER_SECONDS) {
        await admin.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
      }
    }
    const templates = await admin.query<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE datname LIKE 'lp\\_tpl\\_%' AND datname <> $1`,
      [keepTemplate],
    );
    for (const { datname } of templates.rows) {
      // Without FORCE: a template another suite is cloning right now stays until a later run.
      await admin.query(`DROP DATABASE IF EXISTS "${datname}"`).catch(() => {});
    }
  });
}
