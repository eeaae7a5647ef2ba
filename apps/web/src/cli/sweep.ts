// `loraplane sweep …` and `loraplane run compare …`: sweeps over a pipeline's sweepable settings and run comparison.
import { readFile } from "node:fs/promises";
import { SWEEPABLE_PATHS } from "@loraplane/core";
import { type Command, Option } from "commander";
import { parse as parseYaml } from "yaml";
import { CliError, EXIT, type TApi } from "./api-client.ts";
import { resolvePipeline } from "./resolve.ts";

type TValue = string | number | boolean;
type TRange = { min: number; max: number; scale?: "linear" | "log"; integer?: boolean };

function scalar(text: string): TValue {
  const s = text.trim();
  if (s === "true" || s === "false") return s === "true";
  return s !== "" && Number.isFinite(Number(s)) ? Number(s) : s;
}

function knownPath(flag: string, path: string): string {
  if (!SWEEPABLE_PATHS.includes(path)) throw new CliError(`${flag} ${path}: not a sweepable setting; use one of: ${SWEEPABLE_PATHS.join(", ")}`, EXIT.usage);
  return path;
}

/** `--grid training.learningRate=1e-4,3e-4` (repeatable). */
export function parseGrid(raw: string, previous: Record<string, TValue[]> = {}): Record<string, TValue[]> {
  const eq = raw.indexOf("=");
  if (eq <= 0) throw new CliError(`--grid ${raw}: expected path=v1,v2,… (e.g. --grid training.learningRate=1e-4,3e-4)`, EXIT.usage);
  const path = knownPath("--grid", raw.slice(0, eq).trim());
  const values = raw.slice(eq + 1).split(",").filter((v) => v.trim() !== "").map(scalar);
  if (values.length === 0) throw new CliError(`--grid ${raw}: list at least one value`, EXIT.usage);
  return { ...previous, [path]: values };
}

/** `--random training.learningRate=1e-5:1e-3:log` or `training.lora.r=4:64:int` (repeatable). */
export function parseRandom(raw: string, previous: Record<string, TRange> = {}): Record<string, TRange> {
  const m = /^([^=]+)=([^:]+):([^:]+)((?::(?:log|linear|int))*)$/.exec(raw);
  if (!m) throw new CliError(`--random ${raw}: expected path=min:max[:log][:int] (e.g. --random training.learningRate=1e-5:1e-3:log)`, EXIT.usage);
  const path = knownPath("--random", m[1]!.trim());
  const [min, max] = [Number(m[2]), Number(m[3])];
  if (!Number.isFinite(min) || !Number.isFinite(max)) throw new CliError(`--random ${raw}: min and max must be numbers`, EXIT.usage);
  const flags = m[4]!.split(":").filter(Boolean);
  return { ...previous, [path]: { min, max, scale: flags.includes("log") ? "log" : "linear", integer: flags.includes("int") } };
}

interface TSweepView {
  sweep: { id: string; status: string; objectiveMetric: string; direction: string; concurrency: number; pipelineName: string };
  parameters: string[];
  points: { index: number; params: Record<string, TValue>; run: { id: string; number: number; status: string } | null; value: number | null }[];
  best: { runId: string; runNumber: number; value: number; index: number } | null;
  registered: { id: string; modelName: string; version: number } | null;
  canRegisterBest: boolean;
  counts: { total: number; active: number; finished: number; pending: number };
}

const DONE = new Set(["completed", "cancelled", "failed"]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function table(rows: string[][]): void {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  for (const r of rows) process.stdout.write(r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ") + "\n");
}

function printSweep(v: TSweepView): void {
  process.stdout.write(
    `sweep ${v.sweep.id} (${v.sweep.pipelineName}): ${v.sweep.status}, ${v.sweep.direction} ${v.sweep.objectiveMetric}, ${v.counts.finished}/${v.counts.total} finished, ${v.counts.active} active (at most ${v.sweep.concurrency})\n`,
  );
  table([
    ["#", ...v.parameters, "RUN", "STATUS", v.sweep.objectiveMetric.toUpperCase()],
    ...v.points.map((p) => [
      String(p.index) + (p.index === v.best?.index ? "*" : ""),
      ...v.parameters.map((k) => (p.params[k] === undefined ? "-" : String(p.params[k]))),
      p.run ? `#${p.run.number}` : "-",
      p.run?.status ?? "pending",
      p.value === null ? "-" : String(Number(p.value.toPrecision(6))),
    ]),
  ]);
  if (v.best) process.stdout.write(`best: point ${v.best.index}, run #${v.best.runNumber} (${v.best.runId}) with ${v.sweep.objectiveMetric} ${v.best.value}${v.registered ? `, registered as ${v.registered.modelName} v${v.registered.version}` : ""}\n`);
}

async function watchSweep(call: TApi, id: string, watch: boolean, json: boolean): Promise<TSweepView> {
  let last = "";
  for (;;) {
    const v = await call<TSweepView>("GET", `/api/v1/sweeps/${id}`);
    const line = v.points.map((p) => `${p.index}:${p.run?.status ?? "pending"}`).join(" ");
    if (!json && line !== last) process.stdout.write(`${new Date().toISOString()} ${v.sweep.status} ${line}\n`);
    last = line;
    if (!watch || DONE.has(v.sweep.status)) return v;
    await sleep(3000);
  }
}

export function registerSweepCommands(program: Command, api: (cmd: Command) => TApi, projectOption: (what?: string) => Option): void {
  const print = (value: unknown): void => {
    process.stdout.write(JSON.stringify(value, null, 2) + "\n");
  };
  const sweep = program.command("sweep").description("hyperparameter sweeps: sibling runs over a pipeline's sweepable settings");
  sweep
    .command("create")
    .requiredOption("--pipeline <pipeline>", "the pipeline (id or name)")
    .addOption(projectOption("the pipeline's project, when its name is not unique (id, slug or name)"))
    .option("-f, --file <sweep.yaml>", "the sweep as YAML or JSON ({ grid, random, samples, seed, metric, direction, concurrency }); flags override it")
    .option("--grid <path=v1,v2>", "grid values of a sweepable setting (repeatable)", (v: string, prev?: Record<string, TValue[]>) => parseGrid(v, prev))
    .option("--random <path=min:max[:log][:int]>", "seeded random range of a sweepable setting (repeatable)", (v: string, prev?: Record<string, TRange>) => parseRandom(v, prev))
    .option("--samples <n>", "random draws per grid point")
    .option("--seed <n>", "seed of the random draws (same seed → same points)")
    .option("--metric <metric>", "eval metric to optimise (e.g. exact_match)")
    .addOption(new Option("--direction <dir>", "maximise or minimise the metric").choices(["max", "min"]))
    .option("--concurrency <n>", "sibling runs active at once (default 2)")
    .option("--wait", "follow the sweep until it ends; exit non-zero unless it completed with a best run")
    .option("--json", "print the API's JSON")
    .description("create a sweep; prints its id and the points it started")
    .action(async (o: { pipeline: string; project?: string; file?: string; grid?: Record<string, TValue[]>; random?: Record<string, TRange>; samples?: string; seed?: string; metric?: string; direction?: string; concurrency?: string; wait?: boolean; json?: boolean }, cmd: Command) => {
      const call = api(cmd);
      let body: Record<string, unknown> = {};
      if (o.file) {
        try {
          const parsed = parseYaml(await readFile(o.file, "utf8")) as unknown;
          if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("expected a mapping");
          body = { ...(parsed as Record<string, unknown>) };
        } catch (error) {
          throw new CliError(`cannot read ${o.file}: ${(error as Error).message}`, EXIT.usage);
        }
      }
      const int = (flag: string, v: string | undefined) => {
        if (v === undefined) return undefined;
        const n = Number(v);
        if (!Number.isInteger(n)) throw new CliError(`${flag} ${v}: expected an integer`, EXIT.usage);
        return n;
      };
      if (o.grid) body.grid = { ...(body.grid as object | undefined), ...o.grid };
      if (o.random) body.random = { ...(body.random as object | undefined), ...o.random };
      for (const [key, flag, value] of [["samples", "--samples", o.samples], ["seed", "--seed", o.seed], ["concurrency", "--concurrency", o.concurrency]] as const) {
        const n = int(flag, value);
        if (n !== undefined) body[key] = n;
      }
      if (o.metric) body.metric = o.metric;
      if (o.direction) body.direction = o.direction;
      if (!body.metric) throw new CliError("no metric: pass --metric <metric> (e.g. exact_match) or set metric in the file", EXIT.usage);
      if (!body.grid && !body.random) throw new CliError("nothing to sweep: pass --grid path=v1,v2 and/or --random path=min:max, or a file", EXIT.usage);
      const target = await resolvePipeline(call, o.pipeline, o.project);
      const created = await call<{ sweep: { id: string; points: unknown[] }; triggered: number }>("POST", `/api/v1/pipelines/${target.id}/sweeps`, body);
      if (o.json && !o.wait) return print(created);
      if (!o.json) process.stdout.write(`created sweep ${created.sweep.id}: ${created.sweep.points.length} points, ${created.triggered} started\n`);
      if (o.wait) {
        const v = await watchSweep(call, created.sweep.id, true, Boolean(o.json));
        if (o.json) print(v);
        else printSweep(v);
        if (v.sweep.status !== "completed" || !v.best) throw new CliError(`sweep ${v.sweep.id} ${v.sweep.status}${v.best ? "" : " without a best run"}`, EXIT.failed);
      }
    });
  sweep
    .command("status <sweepId>")
    .option("--watch", "poll until the sweep ends")
    .option("--json", "print the API's JSON")
    .description("a sweep's points, their runs and the chosen metric; * marks the best")
    .action(async (id: string, o: { watch?: boolean; json?: boolean }, cmd: Command) => {
      const v = await watchSweep(api(cmd), id, Boolean(o.watch), Boolean(o.json) || !o.watch);
      if (o.json) return print(v);
      printSweep(v);
    });
  sweep
    .command("register-best <sweepId>")
    .description("register the sweep's best run as the next version of its model")
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const r = await api(cmd)<{ modelVersion: { id: string; modelName: string; version: number }; runId: string; value: number | null; created: boolean }>("POST", `/api/v1/sweeps/${id}/register-best`, {});
      process.stdout.write(`${r.created ? "registered" : "already registered"} ${r.modelVersion.modelName} v${r.modelVersion.version} (${r.modelVersion.id}) from run ${r.runId}\n`);
    });
  sweep
    .command("cancel <sweepId>")
    .description("start no further point and cancel the active runs")
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const r = await api(cmd)<{ status: string; cancelledRuns: number }>("POST", `/api/v1/sweeps/${id}/cancel`, {});
      process.stdout.write(`sweep ${id} ${r.status}; cancelled ${r.cancelledRuns} run(s)\n`);
    });

  const run = program.commands.find((c) => c.name() === "run");
  run
    ?.command("compare <runIds...>")
    .option("--json", "print the API's JSON")
    .description("eval metrics of 2–10 runs side by side, and the spec fields where they differ")
    .action(async (ids: string[], o: { json?: boolean }, cmd: Command) => {
      if (ids.length < 2 || ids.length > 10) throw new CliError(`give 2 to 10 run ids (got ${ids.length})`, EXIT.usage);
      type TCompare = { runs: { id: string; number: number; status: string; resolvedSpec: unknown }[]; metrics: string[]; evals: Record<string, Record<string, number>> };
      const c = await api(cmd)<TCompare>("GET", `/api/v1/runs/compare?ids=${ids.map(encodeURIComponent).join(",")}&maxPoints=4`);
      if (o.json) return print(c);
      table([["METRIC", ...c.runs.map((r) => `#${r.number}`)], ...c.metrics.map((m) => [m, ...c.runs.map((r) => (c.evals[r.id]?.[m] === undefined ? "-" : String(Number(c.evals[r.id]![m]!.toPrecision(6)))))])]);
      const flat = (v: unknown, p = "", out: Record<string, string> = {}) => {
        if (v && typeof v === "object" && !Array.isArray(v)) for (const [k, x] of Object.entries(v)) flat(x, p ? `${p}.${k}` : k, out);
        else out[p] = JSON.stringify(v);
        return out;
      };
      const specs = c.runs.map((r) => flat(r.resolvedSpec));
      const differing = [...new Set(specs.flatMap((s) => Object.keys(s)))].sort().filter((k) => new Set(specs.map((s) => s[k] ?? "-")).size > 1);
      process.stdout.write("\n");
      if (differing.length === 0) process.stdout.write("specs: identical\n");
      else table([["SPEC FIELD", ...c.runs.map((r) => `#${r.number}`)], ...differing.map((k) => [k, ...specs.map((s) => s[k] ?? "-")])]);
    });
}
