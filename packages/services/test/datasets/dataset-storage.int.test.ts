// Issue 11 finding 4: a dataset version's URI must lie under its project's storage prefix — checked lexically (no
// `..`, no encoded separators) and after realpath (no symlink out) — so a member of project A cannot register project
// B's files (or any host path) and read them back as eval samples.
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import type { Db } from "@loraplane/db";
import { useTestDb } from "@loraplane/db/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { createDataset, createDatasetVersion, datasetPathOf, datasetRoots, measureDatasetDigest } from "../../src/datasets/index.ts";
import { ValidationError } from "../../src/errors.ts";

const t = useTestDb("dataset_storage");
const dataDir = mkdtempSync(path.join(os.tmpdir(), "lp-ds-"));
const roots = datasetRoots(dataDir);
const actor = { type: "system" as const, userId: null };

async function project(db: Db) {
  const label = Math.random().toString(36).slice(2, 8);
  const p = await db.project.create({ data: { slug: `d-${label}`, name: label }, select: { id: true } });
  const dataset = await createDataset(db, p.id, { name: `ds-${label}` }, actor);
  const dir = path.join(dataDir, "projects", p.id, "datasets", "demo", "v1");
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "train.jsonl"), '{"instruction":"q","output":"a"}\n');
  return { projectId: p.id, datasetId: dataset.id, dir };
}

const version = (uri: string, v = `v-${Math.random().toString(36).slice(2, 8)}`) => ({ version: v, uri, sha256: "a".repeat(64), rowCount: 1, format: "alpaca" as const, splits: {} });
const register = (datasetId: string, uri: string) => createDatasetVersion(t.db, datasetId, version(uri), actor, {}, { roots });

let a: Awaited<ReturnType<typeof project>>;
let b: Awaited<ReturnType<typeof project>>;
beforeAll(async () => {
  a = await project(t.db);
  b = await project(t.db);
});

async function refused(datasetId: string, uri: string, reason: RegExp) {
  const attempt = register(datasetId, uri);
  await expect(attempt).rejects.toBeInstanceOf(ValidationError);
  await expect(attempt).rejects.toMatchObject({ status: 400, issues: [{ path: "uri", message: expect.stringMatching(reason) }] });
}

describe("dataset URIs are confined to the project's storage prefix", () => {
  it("accepts a directory under <data dir>/projects/<projectId>/datasets/ and the same layout under /data", async () => {
    const row = await register(a.datasetId, pathToFileURL(a.dir).href);
    expect(row.uri).toBe(pathToFileURL(a.dir).href);
    // Files not visible here (a Kubernetes data volume): accepted lexically, prepare verifies them.
    await register(a.datasetId, `file:///data/projects/${a.projectId}/datasets/demo/v2`);
  });

  it("refuses another project's prefix, any host path and other schemes", async () => {
    await refused(a.datasetId, pathToFileURL(b.dir).href, /this project's storage prefix/);
    await refused(a.datasetId, `file:///data/projects/${b.projectId}/datasets/demo/v1`, /this project's storage prefix/);
    await refused(a.datasetId, "file:///etc", /this project's storage prefix/);
    await refused(a.datasetId, `file://${dataDir}/projects/${a.projectId}/datasets`, /this project's storage prefix/);
    await refused(a.datasetId, "s3://bucket/projects/x/datasets/demo", /file:\/\/ URI/);
    await refused(a.datasetId, `file://evil.example${dataDir}/projects/${a.projectId}/datasets/demo/v1`, /host/);
  });

  it("refuses .. and . segments and percent-encoded dots, slashes and backslashes", async () => {
    const prefix = `file://${dataDir}/projects/${a.projectId}/datasets`;
    await refused(a.datasetId, `${prefix}/../../${b.projectId}/datasets/demo/v1`, /\.\. segments/);
    await refused(a.datasetId, `${prefix}/./demo/v1`, /\.\. segments/);
    await refused(a.datasetId, `${prefix}/%2e%2e/%2e%2e/${b.projectId}/datasets/demo/v1`, /percent-encoded/);
    await refused(a.datasetId, `${prefix}/demo%2F..%2F..%2F..%2F${b.projectId}`, /percent-encoded/);
    await refused(a.datasetId, `${prefix}/demo%5cv1`, /percent-encoded/);
  });

  it("refuses a symlink under the prefix that leads out of it", async () => {
    const link = path.join(dataDir, "projects", a.projectId, "datasets", "stolen");
    symlinkSync(b.dir, link);
    await refused(a.datasetId, pathToFileURL(link).href, /outside the project's storage prefix/);
    const hostLink = path.join(dataDir, "projects", a.projectId, "datasets", "etc");
    symlinkSync("/etc", hostLink);
    await refused(a.datasetId, pathToFileURL(hostLink).href, /outside the project's storage prefix/);
  });

  it("datasetPathOf is purely lexical and names the allowed prefixes", () => {
    const r = datasetPathOf("file:///tmp/x", "p1", ["/srv/data", "/data"]);
    expect(r).toEqual({ ok: false, reason: "must be under file:///srv/data/projects/p1/datasets/ or file:///data/projects/p1/datasets/ (this project's storage prefix)" });
    expect(datasetPathOf("file:///data/projects/p1/datasets/a%20b/v1/", "p1", ["/data"])).toEqual({ ok: true, path: "/data/projects/p1/datasets/a b/v1", root: "/data", prefix: "/data/projects/p1/datasets" });
  });
});

describe("dataset digest", () => {
  it("is the sha256 of the split digests in the order train, validation, test, then others by name (make-demo-data's definition)", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "lp-digest-"));
    writeFileSync(path.join(dir, "test.jsonl"), "t\n");
    writeFileSync(path.join(dir, "train.jsonl"), "a\n");
    writeFileSync(path.join(dir, "validation.jsonl"), "v\n");
    const { createHash } = await import("node:crypto");
    const h = (s: string) => createHash("sha256").update(s).digest("hex");
    expect(await measureDatasetDigest(dir)).toEqual({ ok: true, sha256: h(h("a\n") + h("v\n") + h("t\n")), splits: { train: h("a\n"), validation: h("v\n"), test: h("t\n") } });
    symlinkSync("/etc/hostname", path.join(dir, "extra.jsonl"));
    expect(await measureDatasetDigest(dir)).toMatchObject({ ok: false, reason: expect.stringContaining("symlinks are refused") });
  });
});
