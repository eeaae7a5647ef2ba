// The `loraplane` commands that talk to the REST API with a token. Shared by the monorepo entry (index.ts, which adds
// the bootstrap commands that write to Postgres) and the standalone bundle (standalone.ts, which must not pull in any
// server code): nothing here imports a workspace package that does I/O.
import { openAsBlob } from "node:fs";
import { lstat, readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { Command, Option } from "commander";
import { parse as parseYaml } from "yaml";
import { apiClient, apiUpload, CliError, EXIT, type TApi } from "./api-client.ts";
import { downloadArtifact } from "./download.ts";
import { listPipelines, listProjects, parseParam, resolvePipeline, resolveProject, sameJson } from "./resolve.ts";
import { registerSweepCommands } from "./sweep.ts";

const TERMINAL = new Set(["succeeded", "failed", "blocked", "cancelled"]);
function api(cmd: Command): TApi {
  const opts = cmd.optsWithGlobals<{ url: string; token?: string }>();
  return apiClient(opts.url, opts.token);
}

const print = (value: unknown): void => {
  process.stdout.write(JSON.stringify(value, null, 2) + "\n");
};
/** `--project`: an id, slug or name; defaults to $LORAPLANE_PROJECT. */
const projectOption = (what = "the project (id, slug or name)") => new Option("--project <project>", `${what}; default: $LORAPLANE_PROJECT`).env("LORAPLANE_PROJECT");
function requireProject(o: { project?: string }): string {
  if (!o.project) throw new CliError("no project: pass --project <slug> or set LORAPLANE_PROJECT (`loraplane project list` shows yours)", EXIT.usage);
  return o.project;
}
function table(rows: string[][]): void {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  for (const r of rows) process.stdout.write(r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ") + "\n");
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const program = new Command("loraplane")
  .description("Loraplane control plane CLI. Exit codes: 0 done (a waited-for run succeeded), 1 failed (a run failed, was blocked by its gate or cancelled; a request refused), 2 usage or input error, 3 control plane unreachable or token refused.")
  .addOption(new Option("--url <url>", "control plane URL").env("LORAPLANE_URL").default("http://127.0.0.1:3000"))
  .addOption(new Option("--token <token>", "API token (lp_…)").env("LORAPLANE_TOKEN"))
  .showHelpAfterError();

const project = program.command("project").description("projects");
project
  .command("list")
  .option("--json", "print the API's JSON")
  .description("the projects you belong to, with your role (use the slug wherever --project is asked)")
  .action(async (o: { json?: boolean }, cmd: Command) => {
    const items = await listProjects(api(cmd));
    if (o.json) return print(items);
    table([["SLUG", "NAME", "ROLE", "ID"], ...items.map((p) => [p.slug, p.name, p.role, p.id])]);
  });

const pipeline = program.command("pipeline").description("pipelines");
pipeline
  .command("list")
  .addOption(projectOption("only this project (id, slug or name)"))
  .option("--json", "print the API's JSON")
  .description("pipelines of a project (or of all your projects)")
  .action(async (o: { project?: string; json?: boolean }, cmd: Command) => {
    const call = api(cmd);
    const projects = o.project ? [await resolveProject(call, o.project)] : await listProjects(call);
    const rows: { project: string; id: string; name: string; specVersion: number }[] = [];
    for (const p of projects) for (const pl of await listPipelines(call, p.id)) rows.push({ project: p.slug, id: pl.id, name: pl.name, specVersion: pl.specVersion });
    if (o.json) return print(rows);
    table([["NAME", "PROJECT", "SPEC", "ID"], ...rows.map((r) => [r.name, r.project, `v${r.specVersion}`, r.id])]);
  });
pipeline
  .command("apply")
  .requiredOption("-f, --file <spec.yaml>", "pipeline spec (YAML or JSON)")
  .addOption(projectOption())
  .option("--branches <list>", "git branches whose pushes trigger the pipeline (comma-separated)")
  .description("create the pipeline named in the spec, or update it when it exists; an unchanged spec changes nothing (no new spec version)")
  .action(async (o: { file: string; project?: string; branches?: string }, cmd: Command) => {
    const call = api(cmd);
    const proj = await resolveProject(call, requireProject(o));
    let spec: unknown;
    try {
      spec = parseYaml(await readFile(o.file, "utf8"));
    } catch (error) {
      throw new CliError(`cannot read ${o.file}: ${(error as Error).message}`, EXIT.usage);
    }
    const name = (spec as { name?: unknown } | null)?.name;
    const gitBranches = o.branches?.split(",").map((b) => b.trim()).filter(Boolean);
    const existing = (await listPipelines(call, proj.id, true)).find((p) => p.name === name);
    // Like `kubectl apply`: applying what is already there is a no-op, not a new spec version.
    if (existing && !existing.archivedAt && sameJson(existing.spec, spec) && (!gitBranches || sameJson(existing.gitBranches, gitBranches))) {
      process.stdout.write(`unchanged pipeline ${String(name)} (${existing.id}, spec v${existing.specVersion})\n`);
      return;
    }
    const body = { spec, ...(gitBranches ? { gitBranches } : {}) };
    const result = existing
      ? await call<{ id: string; specVersion: number }>("PATCH", `/api/v1/pipelines/${existing.id}`, { ...body, archived: false })
      : await call<{ id: string; specVersion: number }>("POST", `/api/v1/projects/${proj.id}/pipelines`, body);
    process.stdout.write(`${existing ? "updated" : "created"} pipeline ${String(name)} (${result.id}, spec v${result.specVersion})\n`);
  });

type TRun = { id: string; number: number; status: string; error: string | null; stages: { stage: string; status: string; attempt: number; progress: number | null; etaSeconds: number | null }[] };

async function watchRun(call: TApi, runId: string, watch: boolean, intervalMs: number): Promise<TRun> {
  let last = "";
  for (;;) {
    const run = await call<TRun>("GET", `/api/v1/runs/${runId}`);
    const line = `#${run.number} ${run.status} ` + run.stages.map((s) => `${s.stage}:${s.status}${s.progress != null && s.status === "running" ? ` ${Math.round(s.progress * 100)}%` : ""}`).join(" ");
    if (line !== last) process.stdout.write(`${new Date().toISOString()} ${line}\n`);
    last = line;
    if (!watch || TERMINAL.has(run.status)) return run;
    await sleep(intervalMs);
  }
}

function exitForRun(run: TRun): void {
  if (TERMINAL.has(run.status) && run.status !== "succeeded") {
    throw new CliError(`run #${run.number} ${run.status}${run.error ? `: ${run.error}` : ""}`, EXIT.failed);
  }
}

const run = program.command("run").description("runs");
run
  .command("list")
  .addOption(projectOption("only this project (id, slug or name)"))
  .option("--pipeline <pipeline>", "only this pipeline (id or name)")
  .option("--status <status>", "queued, running, waiting_approval, succeeded, failed, blocked or cancelled")
  .option("--limit <n>", "at most n runs", "20")
  .option("--json", "print the API's JSON")
  .description("runs, newest first")
  .action(async (o: { project?: string; pipeline?: string; status?: string; limit: string; json?: boolean }, cmd: Command) => {
    const call = api(cmd);
    const q = new URLSearchParams({ limit: o.limit });
    if (o.project) q.set("projectId", (await resolveProject(call, o.project)).id);
    if (o.pipeline) q.set("pipelineId", (await resolvePipeline(call, o.pipeline, o.project)).id);
    if (o.status) q.set("status", o.status);
    const { items } = await call<{ items: { id: string; number: number; pipelineName: string; status: string; trigger: string; createdAt: string }[] }>("GET", `/api/v1/runs?${q}`);
    if (o.json) return print(items);
    table([["RUN", "PIPELINE", "STATUS", "TRIGGER", "CREATED", "ID"], ...items.map((r) => [`#${r.number}`, r.pipelineName, r.status, r.trigger, r.createdAt, r.id])]);
  });
run
  .command("trigger")
  .requiredOption("--pipeline <pipeline>", "the pipeline (id or name)")
  .addOption(projectOption("the pipeline's project, when its name is not unique (id, slug or name)"))
  .option("--commit <sha>")
  .option("--ref <ref>")
  .option("--param <key=value>", "override a spec value for this run (repeatable), e.g. --param training.learningRate=0.0002", (v: string, prev?: Record<string, string | number | boolean>) => parseParam(v, prev))
  .option("--idempotency-key <key>", "the same key never starts a second run (e.g. $CI_PIPELINE_ID); reused with other options it is refused")
  .option("--wait", "follow the run until it finishes; exit non-zero unless it succeeded")
  .description("trigger a run of a pipeline")
  .action(async (o: { pipeline: string; project?: string; commit?: string; ref?: string; param?: Record<string, string | number | boolean>; idempotencyKey?: string; wait?: boolean }, cmd: Command) => {
    const call = api(cmd);
    const target = await resolvePipeline(call, o.pipeline, o.project);
    const result = await call<{ run: { id: string; number: number; status: string }; created: boolean }>(
      "POST",
      `/api/v1/pipelines/${target.id}/runs`,
      { gitCommit: o.commit, gitRef: o.ref, ...(o.param ? { params: o.param } : {}) },
      o.idempotencyKey ? { "idempotency-key": o.idempotencyKey } : {},
    );
    process.stdout.write(`${result.created ? "triggered" : "already triggered"} run #${result.run.number} ${result.run.id}\n`);
    if (o.wait) exitForRun(await watchRun(call, result.run.id, true, 3000));
  });
run
  .command("status <runId>")
  .option("--watch", "poll until the run finishes; exit non-zero unless it succeeded")
  .option("--interval <seconds>", "poll interval", "3")
  .action(async (runId: string, o: { watch?: boolean; interval: string }, cmd: Command) => {
    const result = await watchRun(api(cmd), runId, Boolean(o.watch), Number(o.interval) * 1000);
    if (o.watch) exitForRun(result);
  });
run
  .command("logs <runId>")
  .option("--stage <stage>")
  .option("--tail <n>", "last n lines", "200")
  .action(async (runId: string, o: { stage?: string; tail: string }, cmd: Command) => {
    const q = new URLSearchParams({ tail: o.tail, ...(o.stage ? { stage: o.stage } : {}) });
    const logs = await api(cmd)<{ lines: string[] }>("GET", `/api/v1/runs/${runId}/logs?${q}`);
    process.stdout.write(logs.lines.join("\n") + (logs.lines.length ? "\n" : ""));
  });

const artifact = program.command("artifact").description("artifacts of a run (adapter, checkpoints, reports)");
artifact
  .command("download <runId> <name>")
  .option("-o, --output <file>", "where to save it (- for stdout); default: the server's file name in the current folder")
  .option("--force", "overwrite the output file if it exists")
  .description("download an artifact by id, file or folder name, or kind; a folder arrives as .tar.gz with MANIFEST.sha256 (check with `sha256sum -c MANIFEST.sha256` after extracting)")
  .action(async (runId: string, name: string, o: { output?: string; force?: boolean }, cmd: Command) => {
    const conn = cmd.optsWithGlobals<{ url: string; token?: string }>();
    const saved = await downloadArtifact(api(cmd), conn, runId, name, o);
    process.stderr.write(`saved ${saved.file === "-" ? "stdout" : saved.file} (${saved.bytes} bytes, sha256 ${saved.sha256})\n`);
  });

program
  .command("approve <approvalId>")
  .option("--comment <text>")
  .option("--reject", "reject instead of approving")
  .description("approve (or reject) a pending approval request")
  .action(async (id: string, o: { comment?: string; reject?: boolean }, cmd: Command) => {
    print(await api(cmd)("POST", `/api/v1/approvals/${id}/${o.reject ? "reject" : "approve"}`, { comment: o.comment }));
  });

program
  .command("rollback <deploymentId>")
  .option("--reason <text>")
  .description("send all traffic of a deployment back to its stable variant")
  .action(async (id: string, o: { reason?: string }, cmd: Command) => {
    print(await api(cmd)("POST", `/api/v1/deployments/${id}/rollback`, { reason: o.reason }));
  });

type TReleaseView = {
  id: string;
  state: string;
  reason: string | null;
  endpointName: string;
  modelVersion: { modelName: string; version: number };
  stages: {
    environment: { name: string; inferenceUrl: string | null; frozen: { reason: string | null } | null };
    state: string;
    reason: string | null;
    soak: { remainingSeconds: number } | null;
    approvals: { required: number; received: number; eligibleApprovers: { email: string }[] };
    deployment: { variants: { role: string; servedModelName: string; weightBps: number }[] } | null;
  }[];
};

function printRelease(r: TReleaseView): void {
  process.stdout.write(`release ${r.id}: ${r.modelVersion.modelName} v${r.modelVersion.version} on ${r.endpointName} — ${r.state}${r.reason ? ` (${r.reason})` : ""}\n`);
  for (const s of r.stages) {
    const weights = s.deployment?.variants.map((v) => `${v.servedModelName} ${v.weightBps / 100}%`).join(", ") ?? "-";
    const extra = [
      s.soak ? `soak ${s.soak.remainingSeconds}s left` : null,
      s.state === "awaiting_approval" ? `approvals ${s.approvals.received}/${s.approvals.required}, may approve: ${s.approvals.eligibleApprovers.map((u) => u.email).join(", ") || "nobody"}` : null,
      s.environment.frozen ? `FROZEN: ${s.environment.frozen.reason ?? ""}` : null,
    ].filter(Boolean);
    process.stdout.write(`  ${s.environment.name.padEnd(10)} ${s.state.padEnd(18)} ${weights}${extra.length ? `  [${extra.join("; ")}]` : ""}\n`);
    if (s.reason) process.stdout.write(`  ${"".padEnd(10)} ${s.reason}\n`);
    if (s.environment.inferenceUrl) process.stdout.write(`  ${"".padEnd(10)} ${s.environment.inferenceUrl}\n`);
  }
}

const release = program.command("release").description("releases: one model version moving through dev → staging → prod");
release
  .command("status [releaseId]")
  .option("--project <projectId>", "list the project's releases instead of showing one")
  .option("--json", "print the API's JSON")
  .description("show a release (or list a project's releases) with every environment's state")
  .action(async (id: string | undefined, o: { project?: string; json?: boolean }, cmd: Command) => {
    const call = api(cmd);
    if (!id && !o.project) throw new CliError("give a release id, or --project <projectId> to list releases", EXIT.usage);
    const releases = id ? [await call<TReleaseView>("GET", `/api/v1/releases/${id}`)] : (await call<{ items: TReleaseView[] }>("GET", `/api/v1/projects/${o.project}/releases`)).items;
    if (o.json) print(id ? releases[0] : releases);
    else for (const r of releases) printRelease(r);
  });
release
  .command("promote <releaseId>")
  .option("--to <environment>", "the environment to promote to (default: the next one)")
  .option("--reason <text>")
  .description("promote a release to its next environment")
  .action(async (id: string, o: { to?: string; reason?: string }, cmd: Command) => {
    printRelease(await api(cmd)<TReleaseView>("POST", `/api/v1/releases/${id}/promote`, { environment: o.to, reason: o.reason }));
  });
release
  .command("approve <releaseId>")
  .requiredOption("--env <environment>", "the environment whose stage you approve")
  .option("--comment <text>")
  .option("--reject", "reject instead of approving")
  .description("approve (or reject) a release's stage in one environment")
  .action(async (id: string, o: { env: string; comment?: string; reject?: boolean }, cmd: Command) => {
    printRelease(await api(cmd)<TReleaseView>("POST", `/api/v1/releases/${id}/environments/${encodeURIComponent(o.env)}/${o.reject ? "reject" : "approve"}`, { comment: o.comment }));
  });
release
  .command("rollback <releaseId>")
  .requiredOption("--env <environment>", "the environment to roll back to its last known good version")
  .option("--reason <text>")
  .description("roll one environment back to its last known good version; other environments are left alone")
  .action(async (id: string, o: { env: string; reason?: string }, cmd: Command) => {
    printRelease(await api(cmd)<TReleaseView>("POST", `/api/v1/releases/${id}/environments/${encodeURIComponent(o.env)}/rollback`, { reason: o.reason }));
  });

const environment = program.command("environment").description("environments");
environment
  .command("freeze <environmentId>")
  .requiredOption("--reason <text>", "why (shown on every release that waits)")
  .description("change freeze (admin): nothing starts or promotes in the environment; rollbacks still work")
  .action(async (id: string, o: { reason: string }, cmd: Command) => {
    print(await api(cmd)("POST", `/api/v1/environments/${id}/freeze`, { reason: o.reason }));
  });
environment
  .command("unfreeze <environmentId>")
  .option("--reason <text>")
  .description("lift an environment's change freeze")
  .action(async (id: string, o: { reason?: string }, cmd: Command) => {
    print(await api(cmd)("POST", `/api/v1/environments/${id}/unfreeze`, { reason: o.reason }));
  });

type TDatasetListItem = { id: string; name: string; description: string | null; versionCount: number };
type TUploaded = {
  deduplicated: boolean;
  version: { id: string; version: string; sha256: string; rowCount: number; format: string; uri: string; splits: Record<string, { rows: number }> };
};

const dataset = program.command("dataset").description("datasets");
dataset
  .command("list")
  .addOption(projectOption())
  .option("--json", "print the API's JSON")
  .description("datasets of a project")
  .action(async (o: { project?: string; json?: boolean }, cmd: Command) => {
    const call = api(cmd);
    const proj = await resolveProject(call, requireProject(o));
    const { items } = await call<{ items: TDatasetListItem[] }>("GET", `/api/v1/projects/${proj.id}/datasets`);
    if (o.json) return print(items);
    table([["NAME", "VERSIONS", "ID"], ...items.map((d) => [d.name, String(d.versionCount), d.id])]);
  });
dataset
  .command("push <dir>")
  .requiredOption("--name <name>", "the dataset (created when the project has none by this name)")
  .addOption(projectOption())
  .option("--description <text>", "description, when the dataset is created")
  .option("--json", "print the API's JSON")
  .description("upload the <split>.jsonl files of a folder (train.jsonl, validation.jsonl, …) as the dataset's next version")
  .action(async (dir: string, o: { name: string; project?: string; description?: string; json?: boolean }, cmd: Command) => {
    const entries = await readdir(dir).catch((error: Error) => {
      throw new CliError(`cannot read ${dir}: ${error.message}`, EXIT.usage);
    });
    const files: string[] = [];
    for (const name of entries.filter((n) => n.endsWith(".jsonl")).sort()) {
      if ((await lstat(path.join(dir, name))).isFile()) files.push(name);
    }
    if (files.length === 0) throw new CliError(`${dir} has no <split>.jsonl files (train.jsonl, validation.jsonl, …)`, EXIT.usage);
    const call = api(cmd);
    const proj = await resolveProject(call, requireProject(o));
    const { items } = await call<{ items: TDatasetListItem[] }>("GET", `/api/v1/projects/${proj.id}/datasets`);
    let target = items.find((d) => d.name === o.name);
    if (!target) {
      target = await call<TDatasetListItem>("POST", `/api/v1/projects/${proj.id}/datasets`, { name: o.name, ...(o.description ? { description: o.description } : {}) });
      if (!o.json) process.stdout.write(`created dataset ${o.name} (${target.id})\n`);
    }
    const form = new FormData();
    for (const name of files) form.append("files", await openAsBlob(path.join(dir, name)), name);
    const opts = cmd.optsWithGlobals<{ url: string; token?: string }>();
    const result = await apiUpload<TUploaded>(opts.url, opts.token, `/api/v1/datasets/${target.id}/versions/upload`, form);
    if (o.json) return print(result);
    const v = result.version;
    // Postgres (jsonb) does not keep key order: train, validation, test first, as the digest orders them.
    const rank = (s: string) => ["train", "validation", "test"].indexOf(s) >>> 0;
    const splits = Object.entries(v.splits)
      .sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b))
      .map(([s, info]) => `${s} ${info.rows}`)
      .join(", ");
    process.stdout.write(
      result.deduplicated
        ? `unchanged: ${o.name} ${v.version} already has this content (sha256 ${v.sha256})\n`
        : `pushed ${o.name} ${v.version}: ${v.rowCount} rows (${splits}), ${v.format}, sha256 ${v.sha256}\n`,
    );
  });

registerSweepCommands(program, api, projectOption);

/** Parses argv and runs the command; a CliError exits with its code, anything else with 1. */
export function runCli(argv: string[]): void {
  program.parseAsync(argv).catch((error: unknown) => {
    if (error instanceof CliError) {
      process.stderr.write(`loraplane: ${error.message}\n`);
      process.exit(error.exitCode);
    }
    process.stderr.write(`loraplane: ${(error as Error).message}\n`);
    process.exit(EXIT.failed);
  });
}
