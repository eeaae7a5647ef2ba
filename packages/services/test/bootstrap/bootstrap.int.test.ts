// The pieces `npm start` runs before it starts any process, against a real migrated database and the real
// gpu-runtime generators: secrets persist, the first admin is created exactly once, the demo seed is idempotent.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useTestDb } from "@loraplane/db/testing";
import {
  authenticatePassword,
  ensureFirstAdmin,
  ensureSecretsFile,
  FIRST_ADMIN_EMAIL,
  listDatasets,
  listDatasetVersions,
  listEnvironments,
  listPipelines,
  type RunCommand,
  measureDatasetDigest,
  seedDemoProject,
  validatePipelineSpec,
} from "../../src/index.ts";

const run = promisify(execFile);
const REPO = path.resolve(import.meta.dirname, "../../../..");
const PYTHON = path.join(REPO, "gpu-runtime", ".venv", "bin", "python");
const t = useTestDb("bootstrap");
let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), "lp-bootstrap-"));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe("ensureSecretsFile", () => {
  it("generates missing secrets once, mode 0600, and keeps existing values", async () => {
    const file = path.join(tmp, "state", "secrets.env");
    const first = await ensureSecretsFile(file, ["NEXTAUTH_SECRET", "LORAPLANE_SECRET_KEY"]);
    expect(first.created).toEqual(["NEXTAUTH_SECRET", "LORAPLANE_SECRET_KEY"]);
    expect(first.values.NEXTAUTH_SECRET!.length).toBeGreaterThanOrEqual(32);
    expect(first.values.NEXTAUTH_SECRET).not.toBe(first.values.LORAPLANE_SECRET_KEY);
    expect((await stat(file)).mode & 0o777).toBe(0o600);

    const second = await ensureSecretsFile(file, ["NEXTAUTH_SECRET", "LORAPLANE_SECRET_KEY"]);
    expect(second.created).toEqual([]);
    expect(second.values).toEqual(first.values);

    // A later start that needs one more secret adds it without touching the others.
    const third = await ensureSecretsFile(file, ["NEXTAUTH_SECRET", "LORAPLANE_EMBEDDED_PG_PASSWORD"]);
    expect(third.created).toEqual(["LORAPLANE_EMBEDDED_PG_PASSWORD"]);
    expect(third.values.NEXTAUTH_SECRET).toBe(first.values.NEXTAUTH_SECRET);
    expect(third.values.LORAPLANE_SECRET_KEY).toBe(first.values.LORAPLANE_SECRET_KEY);
    expect(await readFile(file, "utf8")).toContain(`LORAPLANE_SECRET_KEY=${first.values.LORAPLANE_SECRET_KEY}\n`);
  });

  it("restores mode 0600 on a file that lost it, and gives racing starts the same values", async () => {
    const file = path.join(tmp, "race", "secrets.env");
    const results = await Promise.all([1, 2, 3].map(() => ensureSecretsFile(file, ["NEXTAUTH_SECRET"])));
    expect(new Set(results.map((r) => r.values.NEXTAUTH_SECRET)).size).toBe(1);
    expect(results.filter((r) => r.created.length).length).toBe(1);
    await chmod(file, 0o644);
    await ensureSecretsFile(file, ["NEXTAUTH_SECRET"]);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });
});

describe("ensureFirstAdmin", () => {
  it("creates one admin with a working generated password, and none on later starts", async () => {
    const first = await ensureFirstAdmin(t.db);
    expect(first.email).toBe(FIRST_ADMIN_EMAIL);
    expect(first.password).toMatch(/.{12,}/);
    const login = await authenticatePassword(t.db, FIRST_ADMIN_EMAIL, first.password!);
    expect(login?.id).toBe(first.userId);

    const again = await ensureFirstAdmin(t.db);
    expect(again).toEqual({ userId: first.userId, email: FIRST_ADMIN_EMAIL, password: null });
    const admins = await t.db.user.count({ where: { role: "admin" } });
    expect(admins).toBe(1);
  });
});

describe("seedDemoProject", () => {
  const commands: string[] = [];
  const runCommand: RunCommand = async (_name, command, args) => {
    commands.push(args.slice(2, 3).join(" "));
    await run(command, args, { cwd: path.join(REPO, "gpu-runtime"), timeout: 120_000 });
  };

  it("generates the tiny model and dataset, registers project, environments, dataset digest and a valid pipeline", async () => {
    expect(existsSync(PYTHON), `${PYTHON} missing: run bash gpu-runtime/scripts/setup-venv.sh`).toBe(true);
    const admin = await ensureFirstAdmin(t.db);
    const dataDir = path.join(tmp, "data");
    const result = await seedDemoProject(t.db, { dataDir, python: PYTHON, ownerId: admin.userId, runCommand });
    expect(commands).toEqual(["make-tiny-model", "make-demo-data"]);
    expect(result.created).toContain("pipeline demo-lora");

    const envs = await listEnvironments(t.db, result.projectId);
    expect(envs.map((e) => [e.name, e.tier, e.requiresApproval]).sort()).toEqual([
      ["dev", "dev", false],
      ["prod", "prod", true],
      ["staging", "staging", false],
    ]);

    // The dataset lives under the project's storage prefix, and its files hash to the registered digest.
    const datasetDir = path.join(dataDir, "projects", result.projectId, "datasets/demo-instructions/v1");
    const manifest = JSON.parse(await readFile(path.join(datasetDir, "dataset.json"), "utf8"));
    expect(await measureDatasetDigest(datasetDir)).toMatchObject({ ok: true, sha256: manifest.sha256 });
    const [dataset] = await listDatasets(t.db, result.projectId);
    const [version] = await listDatasetVersions(t.db, dataset!.id);
    expect(version!.sha256).toBe(manifest.sha256);
    expect(version!.rowCount).toBe(8250);
    expect(version!.splits).toEqual(manifest.splits);

    const [pipeline] = await listPipelines(t.db, result.projectId);
    const validation = validatePipelineSpec(pipeline!.spec);
    expect(validation.valid).toBe(true);
    expect(validation.valid && validation.resolved.model.baseModel).toBe(path.join(dataDir, "models", "tiny-qwen2"));
    expect(existsSync(path.join(dataDir, "models", "tiny-qwen2", "config.json"))).toBe(true);
    const membership = await t.db.projectMember.findMany({ where: { projectId: result.projectId }, select: { userId: true, role: true } });
    expect(membership).toEqual([{ userId: admin.userId, role: "admin" }]);
  });

  it("is idempotent: a second run creates nothing and runs no generator", async () => {
    const admin = await ensureFirstAdmin(t.db);
    const before = commands.length;
    const again = await seedDemoProject(t.db, { dataDir: path.join(tmp, "data"), python: PYTHON, ownerId: admin.userId, runCommand });
    expect(again.created).toEqual([]);
    expect(commands.length).toBe(before);
    expect(await t.db.project.count()).toBe(1);
    expect(await t.db.environment.count()).toBe(3);
    expect(await t.db.datasetVersion.count()).toBe(1);
    expect(await t.db.pipeline.count()).toBe(1);
  });

  it("refuses dataset files that no longer match the registered digest", async () => {
    const admin = await ensureFirstAdmin(t.db);
    const project = await t.db.project.findFirstOrThrow({ select: { id: true } });
    const manifestPath = path.join(tmp, "data/projects", project.id, "datasets/demo-instructions/v1/dataset.json");
    const manifest = JSON.parse(await readFile(manifestPath, "utf8"));
    await writeFile(manifestPath, JSON.stringify({ ...manifest, sha256: "0".repeat(64) }));
    await expect(
      seedDemoProject(t.db, { dataDir: path.join(tmp, "data"), python: PYTHON, ownerId: admin.userId, runCommand }),
    ).rejects.toThrow(/does not match the registered digest/);
  });
});
