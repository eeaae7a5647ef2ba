// A throwaway migrated database for a benchmark, cloned from the test template. Named lp_bench_* so test runs'
// clean-up of stale lp_test_* databases leaves a running benchmark alone.
import { randomBytes } from "node:crypto";
import type { Db } from "@loraplane/db";
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

/** A project with one pipeline and `count` runs numbered from 1: what metric and serving benchmarks hang rows on. */
export async function createBenchRuns(db: Db, count: number): Promise<{ projectId: string; runIds: string[] }> {
  const project = await db.project.create({ data: { slug: `bench-${randomBytes(3).toString("hex")}`, name: "bench" }, select: { id: true } });
  const pipeline = await db.pipeline.create({ data: { projectId: project.id, name: "bench", spec: {} }, select: { id: true } });
  const runIds: string[] = [];
  for (let number = 1; number <= count; number++) {
    const run = await db.pipelineRun.create({ data: { projectId: project.id, pipelineId: pipeline.id, number, trigger: "api", specVersion: 1, resolvedSpec: {} }, select: { id: true } });
    runIds.push(run.id);
  }
  return { projectId: project.id, runIds };
}

export async function createBenchDatabase(label: string): Promise<{ url: string; drop(): Promise<void> }> {
  const template = await ensureTemplate();
  const name = `lp_bench_${label}_${randomBytes(4).toString("hex")}`;
  await admin((c) => c.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`));
  return { url: databaseUrl(name), drop: () => admin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => undefined) };
}
