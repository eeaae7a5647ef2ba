// The standalone CLI bundle end to end (issue 16): built with `npm run cli:bundle`'s script, copied into an empty
// folder outside the repository and run there with node alone, against the real API routes and the real worker
// process (fake runtime, real engine, queue, gate and registry). Then the two CI examples in deploy/examples, whose
// script steps run verbatim in bash the way GitHub Actions and GitLab CI run them: the only stand-in is the download
// URL — LORAPLANE_CLI_URL is a file:// URL of the local bundle, which the examples' own `curl` step fetches.
import { execFile, execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { resolveStagePolicy } from "@loraplane/core";
import { useTestDb } from "@loraplane/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { serverContext } from "../../src/server/context.ts";
import { configureEnv, makeProject, makeUser, type TFixture, tokenFor } from "../api/fixtures.ts";
import { cliRunner, serveApi, startWorkerProcess, type TApiServer, type TWorkerProcess } from "./cli-harness.ts";

const t = useTestDb("web-cli-e2e");
const REPO_ROOT = path.resolve(import.meta.dirname, "../../../..");
const tmp = mkdtempSync(path.join(os.tmpdir(), "lp-cli-e2e-"));
const dataDir = path.join(tmp, "data");
const modelDir = path.join(tmp, "model");
/** The bundle's folder: empty but for the one file, outside the repository (no node_modules to fall back on). */
const cliDir = path.join(tmp, "cli");
const BUNDLE = path.join(cliDir, "loraplane-cli.mjs");
/** node, curl and bash, and nothing that could provide another `loraplane`. */
const PATH = [...new Set([path.dirname(process.execPath), "/usr/bin", "/bin"])].join(":");
let server: TApiServer;
let worker: TWorkerProcess;
let fx: TFixture;
const tokens = { engineer: "", approver: "" };
const cli = cliRunner(() => ({ LORAPLANE_URL: server.url, LORAPLANE_TOKEN: tokens.engineer, LORAPLANE_PROJECT: "cli-e2e", PATH }), BUNDLE);
const run = (args: string[], env: Record<string, string> = {}) => cli(args, env, { cwd: cliDir, timeoutMs: 180_000 });

/** A spec whose gate passes (exact match 0.5 on the test split ≥ threshold) or blocks (threshold out of reach). */
const spec = (name: string, threshold: number) =>
  [
    `name: ${name}`,
    "model:",
    "  name: cli-e2e-model",
    `  baseModel: ${modelDir}`,
    "dataset:",
    "  name: e2e-chats",
    "  version: v1",
    "training:",
    "  maxSteps: 3",
    "eval:",
    "  metrics: [exact_match]",
    "  thresholds:",
    `    - { metric: exact_match, comparator: ">=", value: ${threshold} }`,
    "",
  ].join("\n");

beforeAll(async () => {
  configureEnv(t.url);
  // The API and the worker share the data folder (uploaded datasets, run logs) and the queue prefix.
  process.env.LORAPLANE_DATA_DIR = dataDir;
  mkdirSync(modelDir, { recursive: true });
  writeFileSync(path.join(modelDir, "config.json"), "{}");
  mkdirSync(cliDir);
  const built = path.join(tmp, "build");
  execFileSync(process.execPath, [path.join(REPO_ROOT, "apps/web/scripts/bundle-cli.mjs"), built], { cwd: REPO_ROOT });
  copyFileSync(path.join(built, "loraplane-cli.mjs"), BUNDLE);

  fx = await makeProject(t.db, "cli-e2e");
  const engineer = await makeUser(t.db, "eng@cli-e2e.test", "engineer");
  const approver = await makeUser(t.db, "approver@cli-e2e.test", "viewer");
  await t.db.projectMember.createMany({ data: [{ projectId: fx.projectId, userId: engineer.id, role: "engineer" }, { projectId: fx.projectId, userId: approver.id, role: "approver" }] });
  tokens.engineer = (await tokenFor(t.db, engineer.id)).secret;
  tokens.approver = (await tokenFor(t.db, approver.id)).secret;
  server = await serveApi();
  worker = await startWorkerProcess({ databaseUrl: t.url, queuePrefix: process.env.QUEUE_PREFIX!, dataDir, publicUrl: server.url });

  // Test rows: outputs starting with "ok" are what the fake runtime predicts right, so exact match is 0.5.
  const data = path.join(tmp, "dataset");
  mkdirSync(data);
  const rows = Array.from({ length: 4 }, (_, i) => JSON.stringify({ instruction: `q${i}`, output: i % 2 === 0 ? `ok ${i}` : `other ${i}` })).join("\n") + "\n";
  for (const split of ["train", "validation", "test"]) writeFileSync(path.join(data, `${split}.jsonl`), rows);
  const pushed = await run(["dataset", "push", data, "--name", "e2e-chats"]);
  expect(pushed.code, pushed.stderr).toBe(0);
  expect(pushed.stdout).toMatch(/pushed e2e-chats v1: 12 rows/);
}, 180_000);

afterAll(async () => {
  await worker?.stop();
  await server?.close();
  await serverContext().queue().close();
  rmSync(tmp, { recursive: true, force: true });
});

const runOf = (pipelineName: string) =>
  t.db.pipelineRun.findFirstOrThrow({ where: { pipeline: { name: pipelineName } }, orderBy: { number: "desc" }, select: { id: true, status: true, number: true } });

describe("standalone CLI against a running server", () => {
  it("is one file plus a package.json without dependencies, with no server code in it", () => {
    const pkg = JSON.parse(readFileSync(path.join(tmp, "build", "package.json"), "utf8")) as Record<string, unknown>;
    expect(pkg).toMatchObject({ name: "@loraplane/cli", type: "module", bin: { loraplane: "loraplane-cli.mjs" }, files: ["loraplane-cli.mjs"] });
    expect(pkg.dependencies).toBeUndefined();
    const code = readFileSync(BUNDLE, "utf8");
    expect(code.startsWith("#!/usr/bin/env node")).toBe(true);
    for (const serverOnly of ["@prisma/client", "PrismaClient", "bullmq", "ioredis", "createApiToken"]) expect(code).not.toContain(serverOnly);
  });

  it("pipeline apply, run trigger --wait: exit 0 when the gate passes, 1 when it blocks; run logs", async () => {
    writeFileSync(path.join(tmp, "pass.yaml"), spec("cli-pass", 0.4));
    writeFileSync(path.join(tmp, "block.yaml"), spec("cli-block", 0.9));
    for (const name of ["pass", "block"]) {
      const applied = await run(["pipeline", "apply", "-f", path.join(tmp, `${name}.yaml`)]);
      expect(applied.code, applied.stderr).toBe(0);
      expect(applied.stdout).toMatch(new RegExp(`^created pipeline cli-${name} \\(\\S+, spec v1\\)`));
    }
    const [passed, blocked] = await Promise.all([
      run(["run", "trigger", "--pipeline", "cli-pass", "--commit", "abc1234def", "--wait"]),
      run(["run", "trigger", "--pipeline", "cli-block", "--wait"]),
    ]);
    expect(passed.code, `${passed.stdout}${passed.stderr}\n${worker.logs()}`).toBe(0);
    expect(passed.stdout).toMatch(/^triggered run #\d+ \S+/);
    expect(passed.stdout).toMatch(/succeeded prepare:succeeded train:succeeded eval:succeeded gate:succeeded register:succeeded/);
    const good = await runOf("cli-pass");
    expect(good.status).toBe("succeeded");
    expect(await t.db.modelVersion.count({ where: { runId: good.id } })).toBe(1);

    expect(blocked.code, `${blocked.stdout}${blocked.stderr}`).toBe(1);
    const bad = await runOf("cli-block");
    expect(bad.status).toBe("blocked");
    expect(blocked.stderr).toMatch(new RegExp(`^loraplane: run #${bad.number} blocked: .*exact_match`, "m"));
    expect(await t.db.modelVersion.count({ where: { runId: bad.id } })).toBe(0);

    const logs = await run(["run", "logs", good.id, "--stage", "train"]);
    expect(logs.code, logs.stderr).toBe(0);
    expect(logs.stdout).toContain(`[fake-workload] train for run ${good.id}`);
    const status = await run(["run", "status", bad.id, "--watch"]);
    expect(status.code).toBe(1);
  }, 300_000);

  it("approve, rollback, release approve and rollback; the bootstrap commands say where to run them", async () => {
    // The fixture's canary deployment gets a stable and a canary variant, so a rollback has somewhere to go.
    const stableVersion = await t.db.modelVersion.create({ data: { projectId: fx.projectId, modelName: "m-previous", version: 1, runId: fx.runId, baseModel: "/models/tiny", lineage: {} }, select: { id: true } });
    await t.db.deploymentVariant.createMany({
      data: [
        { deploymentId: fx.deploymentId, modelVersionId: stableVersion.id, role: "stable", weightBps: 9000, upstreamUrl: "http://127.0.0.1:1", servedModelName: "m-v2", status: "ready" },
        { deploymentId: fx.deploymentId, modelVersionId: fx.modelVersionId, role: "canary", weightBps: 1000, upstreamUrl: "http://127.0.0.1:1", servedModelName: "m-v1", status: "ready" },
      ],
    });
    const approved = await run(["approve", fx.approvalId, "--comment", "looks good"], { LORAPLANE_TOKEN: tokens.approver });
    expect(approved.code, approved.stderr).toBe(0);
    expect(JSON.parse(approved.stdout)).toMatchObject({ approval: { id: fx.approvalId, status: "approved" } });
    // An engineer is no approver: refused (exit 1), nothing changed.
    const again = await run(["approve", fx.approvalId]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/→ (403|409)/);

    const rolledBack = await run(["rollback", fx.deploymentId, "--reason", "p99 too high"]);
    expect(rolledBack.code, rolledBack.stderr).toBe(0);
    expect(JSON.parse(rolledBack.stdout)).toMatchObject({ deploymentId: fx.deploymentId, state: "rolled_back", weights: { stable: 10_000, canary: 0 } });
    const d = await t.db.deployment.findUniqueOrThrow({ where: { id: fx.deploymentId }, select: { state: true, reason: true } });
    expect(d).toEqual({ state: "rolled_back", reason: "p99 too high" });

    const policy = { ...resolveStagePolicy({ strategy: "canary" as const, slo: { p99LatencyMs: 2000, ttftP95Ms: 800, maxErrorRate: 0.01 }, canary: { minRequests: 5 } }, { name: "prod", tier: "prod", requiresApproval: true }), rollout: {} };
    const release = await t.db.release.create({
      data: { projectId: fx.projectId, modelVersionId: fx.modelVersionId, endpointName: "chat-cli", stages: { create: [{ environmentId: fx.environmentId, position: 0, policy, state: "awaiting_approval" }] } },
      select: { id: true },
    });
    // Asked before the approval, while the stage waits for it (once approved, the worker process beside the test may
    // start the stage's deployment at any tick, and rolling that back is accepted): the server refuses with 409 and
    // the CLI exits 1 saying why.
    const relRollback = await run(["release", "rollback", release.id, "--env", "prod", "--reason", "bad answers"]);
    expect(relRollback.code, relRollback.stderr).toBe(1);
    expect(relRollback.stderr).toMatch(/→ 409/);
    const relApproved = await run(["release", "approve", release.id, "--env", "prod", "--comment", "ship it"], { LORAPLANE_TOKEN: tokens.approver });
    expect(relApproved.code, relApproved.stderr).toBe(0);
    expect(relApproved.stdout).toMatch(new RegExp(`^release ${release.id}: m v1 on chat-cli`));
    const stage = await t.db.releaseStage.findFirstOrThrow({ where: { releaseId: release.id }, select: { state: true } });
    expect(stage.state).not.toBe("awaiting_approval");
    expect(await t.db.auditLog.count({ where: { subjectId: release.id } })).toBeGreaterThan(0);

    for (const group of ["user", "token"]) {
      const bootstrap = await run([group, "create", "--email", "x@y.z", "--name", "ci"]);
      expect(bootstrap.code).toBe(2);
      expect(bootstrap.stderr).toContain("writes to the control plane's database directly");
    }
    const noServer = await run(["project", "list"], { LORAPLANE_URL: "http://127.0.0.1:9" });
    expect(noServer.code).toBe(3);
    const help = await run(["--help"]);
    expect(help.stdout.replace(/\s+/g, " ")).toContain("Exit codes: 0 done (a waited-for run succeeded), 1 failed (a run failed, was blocked by its gate or cancelled; a request refused), 2 usage or input error, 3 control plane unreachable or token refused.");
    expect((await run(["--version"])).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  }, 180_000);
});

// ---- CI examples -------------------------------------------------------------------------------------------------

type TRunResult = { code: number; output: string };

/** Runs one bash script the way both CI systems do: `bash -e`, in the checkout, with the given environment. */
function bash(script: string, cwd: string, env: Record<string, string>): Promise<TRunResult> {
  return new Promise((resolve) => {
    execFile("bash", ["-e", "-o", "pipefail", "-c", script], { cwd, env: env as NodeJS.ProcessEnv, timeout: 240_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, output: `${stdout}${stderr}` }),
    );
  });
}

/** A user's repository at one commit: the pipeline spec the examples apply, nothing else (no node_modules). */
function checkout(name: string, pipeline: string, threshold: number): string {
  const dir = path.join(tmp, name);
  mkdirSync(path.join(dir, "loraplane"), { recursive: true });
  writeFileSync(path.join(dir, "loraplane", "pipeline.yaml"), spec(pipeline, threshold));
  return dir;
}

/**
 * GitHub Actions: the job's `env:` (only `${{ secrets.X }}` and `${{ vars.X }}`, from `settings`), then every `run:`
 * step in its own `bash -e` in order, stopping at the first failure; a line a step appends to $GITHUB_PATH is on PATH
 * for the steps after it. `uses:` steps are the runner's (checkout: the folder is the checkout; setup-node: node is
 * on PATH).
 */
async function runGithubJob(file: string, repo: string, settings: Record<string, string>, attempt: number): Promise<TRunResult> {
  const workflow = parseYaml(readFileSync(file, "utf8")) as { jobs: Record<string, { env?: Record<string, string>; steps: { uses?: string; run?: string }[] }> };
  const job = Object.values(workflow.jobs)[0]!;
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(job.env ?? {})) {
    const m = /^\$\{\{\s*(secrets|vars)\.(\w+)\s*\}\}$/.exec(v);
    if (!m) throw new Error(`${file}: env ${k} is not a secret or variable: ${v}`);
    env[k] = settings[m[2]!] ?? "";
  }
  const runnerTemp = mkdtempSync(path.join(tmp, "runner-"));
  const githubPath = path.join(runnerTemp, "github_path");
  writeFileSync(githubPath, "");
  const base = { PATH, HOME: runnerTemp, CI: "true", GITHUB_ACTIONS: "true", RUNNER_TEMP: runnerTemp, GITHUB_PATH: githubPath, GITHUB_WORKSPACE: repo, GITHUB_SHA: `${"c0ffee".padEnd(39, "0")}${attempt}`, GITHUB_REF_NAME: "main", GITHUB_RUN_ID: `${Date.now()}`, GITHUB_RUN_ATTEMPT: String(attempt) };
  const outputs: string[] = [];
  for (const step of job.steps) {
    if (!step.run) continue;
    expect(step.run).not.toContain("${{");
    const added = readFileSync(githubPath, "utf8").split("\n").filter(Boolean).reverse();
    const result = await bash(step.run, repo, { ...base, ...env, PATH: [...added, PATH].join(":") });
    outputs.push(result.output);
    if (result.code !== 0) return { code: result.code, output: outputs.join("") };
  }
  return { code: 0, output: outputs.join("") };
}

/** GitLab CI: the job's `variables:` overridden by the project's CI/CD variables, before_script + script in one shell. */
async function runGitlabJob(file: string, repo: string, settings: Record<string, string>, attempt: number): Promise<TRunResult> {
  const doc = parseYaml(readFileSync(file, "utf8")) as Record<string, { variables?: Record<string, string>; before_script?: string[]; script?: string[] }>;
  const job = doc.loraplane!;
  const script = [...(job.before_script ?? []), ...(job.script ?? [])].join("\n");
  const env = { PATH, HOME: repo, CI: "true", GITLAB_CI: "true", CI_PROJECT_DIR: repo, CI_COMMIT_SHA: `${"beef".padEnd(39, "0")}${attempt}`, CI_COMMIT_REF_NAME: "main", CI_COMMIT_BRANCH: "main", CI_DEFAULT_BRANCH: "main", CI_PIPELINE_ID: `${Date.now()}`, CI_JOB_ID: String(attempt), ...job.variables, ...settings };
  return bash(script, repo, env);
}

describe("CI examples run against a running server with the standalone CLI", () => {
  const examples = [
    { name: "github", file: path.join(REPO_ROOT, "deploy/examples/github-actions.yml"), runJob: runGithubJob },
    { name: "gitlab", file: path.join(REPO_ROOT, "deploy/examples/gitlab-ci.yml"), runJob: runGitlabJob },
  ];

  it("a commit whose run passes its gate exits 0; the next commit, whose spec the gate blocks, exits 1", async () => {
    await Promise.all(
      examples.map(async ({ name, file, runJob }) => {
        const pipeline = `ci-${name}`;
        const settings = { LORAPLANE_URL: server.url, LORAPLANE_TOKEN: tokens.engineer, LORAPLANE_PROJECT: "cli-e2e", LORAPLANE_PIPELINE: pipeline, LORAPLANE_CLI_URL: pathToFileURL(BUNDLE).href };
        const pass = await runJob(file, checkout(`${name}-1`, pipeline, 0.4), settings, 1);
        expect(pass.code, `${name}: ${pass.output}\n${worker.logs()}`).toBe(0);
        expect(pass.output).toMatch(new RegExp(`created pipeline ${pipeline} \\(\\S+, spec v1\\)`));
        expect(pass.output).toMatch(/succeeded prepare:succeeded train:succeeded eval:succeeded gate:succeeded register:succeeded/);
        const first = await runOf(pipeline);
        expect(first.status).toBe("succeeded");

        const blocked = await runJob(file, checkout(`${name}-2`, pipeline, 0.9), settings, 2);
        expect(blocked.code, `${name}: ${blocked.output}`).toBe(1);
        expect(blocked.output).toMatch(new RegExp(`updated pipeline ${pipeline} \\(\\S+, spec v2\\)`));
        const second = await runOf(pipeline);
        expect(second.number).toBeGreaterThan(first.number);
        expect(second.status).toBe("blocked");
        expect(blocked.output).toMatch(new RegExp(`run #${second.number} blocked: .*exact_match`));
      }),
    );
  }, 420_000);

  it("a bad token exits 3 before anything runs (the job fails at the first CLI call)", async () => {
    const settings = { LORAPLANE_URL: server.url, LORAPLANE_TOKEN: "lp_not-a-token", LORAPLANE_PROJECT: "cli-e2e", LORAPLANE_PIPELINE: "ci-gitlab", LORAPLANE_CLI_URL: pathToFileURL(BUNDLE).href };
    const result = await runGitlabJob(examples[1]!.file, checkout("gitlab-badtoken", "ci-gitlab", 0.4), settings, 3);
    expect(result.code).toBe(3);
    expect(result.output).toMatch(/→ 401/);
  });
});
