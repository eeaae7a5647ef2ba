// A throwaway migrated database for a benchmark, cloned from the test template. Named lp_bench_* so test runs'
// clean-up of stale lp_test_* databases leaves a running benchmark alone.
import { randomBytes } from "node:crypto";
import pg from "pg";
// The databases module directly: the package's testing index also loads vitest helpers.
import { databaseUrl, ensureTemplate, TEST_SERVER_URL } from "../packages/db/src/testing/databases.ts";

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: TEST_SERVER_URL });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

export async function createBenchDatabase(label: string): Promise<{ url: string; drop(): Promise<void> }> {
  const template = await ensureTemplate();
  const name = `lp_bench_${label}_${randomBytes(4).toString("hex")}`;
  await admin((c) => c.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`));
  return { url: databaseUrl(name), drop: () => admin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => undefined) };
}
