// The `loraplane` CLI (issue 17 item 15) run as a user runs it — `node bin/loraplane.mjs …` in a child process —
// against the real API routes served over HTTP from this process on a test database.
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { useTestDb } from "@loraplane/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serverContext } from "../../src/server/context.ts";
import { configureEnv, makeProject, makeUser, type TFixture, tokenFor } from "../api/fixtures.ts";
import { cliRunner, serveApi, type TApiServer } from "./cli-harness.ts";

const t = useTestDb("web-cli");
let server: TApiServer;
let token = "";
let fx: TFixture;
let other: TFixture;
const tmp = mkdtempSync(path.join(os.tmpdir(), "lp-cli-"));
const cli = cliRunner(() => ({ DATABASE_URL: t.url, LORAPLANE_URL: server.url, LORAPLANE_TOKEN: token }));


beforeAll(async () => {
  configureEnv(t.url);
  fx = await makeProject(t.db, "demo");
  other = await makeProject(t.db, "other");
  const engineer = await makeUser(t.db, "eng@cli.test", "engineer");
  await t.db.projectMember.createMany({ data: [fx, other].map((p) => ({ projectId: p.projectId, userId: engineer.id, role: "engineer" as const })) });
  // Different names in the two projects, so the name alone identifies each pipeline.
  await t.db.pipeline.update({ where: { id: fx.pipelineId }, data: { name: "demo-lora", spec: { name: "demo-lora", model: { name: "m", baseModel: "/models/tiny" }, dataset: { name: "ds", version: "v1" } } } });
  token = (await tokenFor(t.db, engineer.id)).secret;
  server = await serveApi();
});

afterAll(async () => {
  await server?.close();
  await serverContext().queue().close();
  rmSync(tmp, { recursive: true, force: true });
});

describe("loraplane CLI", () => {
  it("lists projects and pipelines, taking a project's slug", async () => {
    const projects = await cli(["project", "list"]);
    expect(projects.code, projects.stderr).toBe(0);
    expect(projects.stdout).toMatch(/^SLUG\s+NAME\s+ROLE\s+ID/m);
    expect(projects.stdout).toMatch(/^demo\s+demo\s+engineer\s+\S+/m);
    const pipelines = await cli(["pipeline", "list", "--project", "demo"]);
    expect(pipelines.code, pipelines.stderr).toBe(0);
    expect(pipelines.stdout).toContain("demo-lora");
    expect(pipelines.stdout).not.toContain("pipe-other");
    const unknown = await cli(["pipeline", "list", "--project", "nope"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no project "nope"');
    expect(unknown.stderr).toContain("demo, other");
  });

  it("triggers a run by pipeline name with --param overrides, and lists runs", async () => {
    const res = await cli(["run", "trigger", "--pipeline", "demo-lora", "--project", "demo", "--param", "training.learningRate=0.0005", "--param", "training.epochs=2"]);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/^triggered run #\d+ \S+/);
    const run = await t.db.pipelineRun.findFirstOrThrow({ where: { pipelineId: fx.pipelineId }, orderBy: { number: "desc" } });
    expect(run.params).toEqual({ "training.learningRate": 0.0005, "training.epochs": 2 });
    const list = await cli(["run", "list", "--pipeline", "demo-lora"], { LORAPLANE_PROJECT: "demo" });
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toContain(`#${run.number}`);
    expect(list.stdout).toContain(run.id);
    const bad = await cli(["run", "trigger", "--pipeline", "demo-lora", "--param", "noequals"]);
    expect(bad.code).toBe(2);
    const missing = await cli(["run", "trigger", "--pipeline", "no-such"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("demo-lora (demo)");
  });

  it("applies a spec idempotently: an unchanged spec is not a new version; --project defaults from LORAPLANE_PROJECT", async () => {
    const file = path.join(tmp, "spec.yaml");
    writeFileSync(file, "name: cli-pipe\nmodel:\n  name: m\n  baseModel: /models/tiny\ndataset:\n  name: ds\n  version: v1\n");
    const env = { LORAPLANE_PROJECT: "demo" };
    const first = await cli(["pipeline", "apply", "-f", file], env);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^created pipeline cli-pipe \(\S+, spec v1\)/);
    // The same spec with its keys in another order is the same spec.
    writeFileSync(file, "dataset:\n  version: v1\n  name: ds\nname: cli-pipe\nmodel:\n  baseModel: /models/tiny\n  name: m\n");
    const again = await cli(["pipeline", "apply", "-f", file], env);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^unchanged pipeline cli-pipe \(\S+, spec v1\)/);
    const row = await t.db.pipeline.findFirstOrThrow({ where: { projectId: fx.projectId, name: "cli-pipe" } });
    expect(row.specVersion).toBe(1);
    writeFileSync(file, "name: cli-pipe\nmodel:\n  name: m\n  baseModel: /models/tiny2\ndataset:\n  name: ds\n  version: v1\n");
    const changed = await cli(["pipeline", "apply", "-f", file], env);
    expect(changed.stdout).toMatch(/^updated pipeline cli-pipe \(\S+, spec v2\)/);
    const noProject = await cli(["pipeline", "apply", "-f", file]);
    expect(noProject.code).toBe(2);
    expect(noProject.stderr).toContain("LORAPLANE_PROJECT");
  });

  it("artifact download: a folder by name as .tar.gz that sha256sum -c accepts; a file by kind, checked against its registered sha256", async () => {
    const runDir = path.join(process.env.LORAPLANE_DATA_DIR!, "runs", fx.runId, "train-1", "output");
    const folder = path.join(runDir, "checkpoint-100");
    mkdirSync(path.join(folder, "sub"), { recursive: true });
    const weights = randomBytes(300_000);
    writeFileSync(path.join(folder, "adapter_model.safetensors"), weights);
    writeFileSync(path.join(folder, "sub", "trainer_state.json"), '{"global_step":100}');
    writeFileSync(path.join(runDir, "eval_report.json"), '{"rouge_l":0.5}');
    writeFileSync(path.join(runDir, "samples.jsonl"), "tampered\n");
    const sha = (text: string) => createHash("sha256").update(text).digest("hex");
    await t.db.artifact.createMany({
      data: [
        { runId: fx.runId, kind: "checkpoint", uri: pathToFileURL(folder).href },
        { runId: fx.runId, kind: "eval_report", uri: pathToFileURL(path.join(runDir, "eval_report.json")).href, sha256: sha('{"rouge_l":0.5}') },
        { runId: fx.runId, kind: "other", uri: pathToFileURL(path.join(runDir, "samples.jsonl")).href, sha256: sha("original\n") },
      ],
    });

    const archive = path.join(tmp, "ckpt.tar.gz");
    const folderDownload = await cli(["artifact", "download", fx.runId, "checkpoint-100", "-o", archive]);
    expect(folderDownload.code, folderDownload.stderr).toBe(0);
    expect(folderDownload.stderr).toMatch(/^saved .*ckpt\.tar\.gz \(\d+ bytes, sha256 [0-9a-f]{64}\)/);
    const out = path.join(tmp, "ckpt");
    mkdirSync(out);
    execFileSync("tar", ["-xzf", archive, "-C", out]);
    expect(execFileSync("sha256sum", ["--strict", "-c", "MANIFEST.sha256"], { cwd: out, encoding: "utf8" })).toBe("adapter_model.safetensors: OK\nsub/trainer_state.json: OK\n");
    expect(readFileSync(path.join(out, "adapter_model.safetensors")).equals(weights)).toBe(true);

    const report = path.join(tmp, "report.json");
    const byKind = await cli(["artifact", "download", fx.runId, "eval_report", "-o", report]);
    expect(byKind.code, byKind.stderr).toBe(0);
    expect(readFileSync(report, "utf8")).toBe('{"rouge_l":0.5}');
    const again = await cli(["artifact", "download", fx.runId, "eval_report", "-o", report]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("--force");
    expect((await cli(["artifact", "download", fx.runId, "eval_report", "-o", report, "--force"])).code).toBe(0);

    // A file that no longer matches its registered sha256 is not saved (no file, no .part left behind).
    const tampered = path.join(tmp, "samples.jsonl");
    const mismatch = await cli(["artifact", "download", fx.runId, "samples.jsonl", "-o", tampered]);
    expect(mismatch.code).toBe(1);
    expect(mismatch.stderr).toContain("does not match the registered");
    expect(existsSync(tampered) || existsSync(`${tampered}.part`)).toBe(false);

    // The fixture's adapter points outside the run's directory; unknown names list what exists.
    const notServed = await cli(["artifact", "download", fx.runId, "adapter", "-o", path.join(tmp, "a.tar.gz")]);
    expect(notServed.code).toBe(1);
    expect(notServed.stderr).toContain("cannot be downloaded");
    const unknown = await cli(["artifact", "download", fx.runId, "nope"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("checkpoint-100 [checkpoint]");
    // A member of another project only: the run does not exist for them.
    const outsider = await makeUser(t.db, "outsider@cli.test", "viewer");
    await t.db.projectMember.create({ data: { projectId: other.projectId, userId: outsider.id, role: "engineer" } });
    const foreign = await cli(["artifact", "download", fx.runId, "checkpoint-100", "-o", path.join(tmp, "x.tar.gz")], { LORAPLANE_TOKEN: (await tokenFor(t.db, outsider.id)).secret });
    expect(foreign.code).toBe(1);
    expect(foreign.stderr).toContain("404");
    expect(existsSync(path.join(tmp, "x.tar.gz"))).toBe(false);
    // Nine CLI processes, each starting tsx: seconds apiece on a loaded 2-core machine (a timing tolerance only).
  }, 300_000);

  it("documents --project and its default in the help", async () => {
    const help = await cli(["run", "trigger", "--help"]);
    expect(help.stdout).toContain("--project <project>");
    expect(help.stdout).toContain("LORAPLANE_PROJECT");
    expect(help.stdout).toContain("--param <key=value>");
  });
});
