// Local executor: each attempt runs as a detached process group in its own directory
// `<dataDir>/runs/<runId>/<stage>-<attempt>/`. A tiny sh wrapper writes the exit status to a file, so a worker that
// restarts (or another worker on the same machine) re-attaches by reading pid and exit_code instead of launching again.
import { spawn } from "node:child_process";
import { open, mkdir, readFile, rename, writeFile, stat } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { isDeniedWorkloadEnv } from "@loraplane/config";
import type { TExecutor, TWorkloadHandle, TWorkloadSpec, TWorkloadState } from "./types.ts";

// `$1`… is the command; sh records its own pid first and the command's exit status last (atomically via rename).
const WRAPPER = 'echo $$ > pid.tmp && mv pid.tmp pid; "$@" > stdout.jsonl 2> stderr.log; echo $? > exit_code.tmp; mv exit_code.tmp exit_code';

export interface TLocalExecutorOptions {
  dataDir: string;
  /** argv for a stage, e.g. [python, "-m", "loraplane_runtime", "train", "--config", "job.json"]. */
  command(spec: Pick<TWorkloadSpec, "command" | "stage">): string[];
  /** How long a launch lock may exist without a pid file before the launch counts as lost. */
  launchGraceMs?: number;
  /**
   * Scheduling priority of training and evaluation processes (`nice -n`, default 19, 0 = off): on a machine that also
   * serves, a training run must not starve the serving processes into SLO breaches and rollbacks.
   */
  niceness?: number;
  /**
   * The environment a workload starts from, read at each launch (workloadEnvironment() from @loraplane/config: PATH,
   * HOME, LANG, the runtime's own variables). Workloads never inherit the worker's environment; names such as
   * NEXTAUTH_SECRET, LORAPLANE_SECRET_KEY, DATABASE_URL or REDIS_URL are dropped even if this returns them.
   */
  baseEnv: () => Record<string, string>;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function readText(file: string): Promise<string | null> {
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
}

export function createLocalExecutor(options: TLocalExecutorOptions): TExecutor {
  const root = path.resolve(options.dataDir);
  const graceMs = options.launchGraceMs ?? 10_000;
  const dirOf = (h: TWorkloadHandle) => path.join(root, "runs", h.externalId);

  const handleFor: TExecutor["handleFor"] = (s) => {
    const externalId = path.join(s.runId, `${s.stage}-${s.attempt}`);
    return { externalId, outputDir: path.join(root, "runs", externalId, "output") };
  };

  async function pidOf(h: TWorkloadHandle): Promise<number | null> {
    const text = await readText(path.join(dirOf(h), "pid"));
    const pid = text ? Number.parseInt(text.trim(), 10) : Number.NaN;
    return Number.isFinite(pid) && pid > 0 ? pid : null;
  }

  return {
    kind: "local",
    dataRoot: root,
    handleFor,
    async launch(spec) {
      const handle = handleFor(spec);
      const dir = dirOf(handle);
      await mkdir(path.join(dir, "output"), { recursive: true });
      await writeFile(path.join(dir, "job.json.tmp"), JSON.stringify({ ...spec.job, paths: { ...(spec.job.paths as object), outputDir: handle.outputDir } }, null, 2));
      await rename(path.join(dir, "job.json.tmp"), path.join(dir, "job.json"));
      // O_EXCL: of two workers racing to launch the same attempt, exactly one creates the lock and spawns.
      let lock;
      try {
        lock = await open(path.join(dir, "launch.lock"), "wx");
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "EEXIST") return { ...handle, launched: false };
        throw error;
      }
      await lock.close();
      const niceness = options.niceness ?? 19;
      const argv = niceness > 0 ? ["nice", "-n", String(niceness), ...options.command(spec)] : options.command(spec);
      // A minimal environment, given to spawn (not as `env K=V` arguments, which any local user could read in ps).
      const env = Object.fromEntries(
        Object.entries({ ...options.baseEnv(), PYTHONUNBUFFERED: "1", ...spec.env }).filter(([k]) => !isDeniedWorkloadEnv(k) || k in spec.env),
      );
      const child = spawn("/bin/sh", ["-c", WRAPPER, "loraplane-wrapper", ...argv], {
        cwd: dir,
        detached: true,
        stdio: "ignore",
        env,
      });
      await new Promise<void>((resolve, reject) => {
        child.once("spawn", resolve);
        child.once("error", reject);
      });
      child.unref();
      // The wrapper writes its own pid too; writing it here as well closes the window before the wrapper runs.
      await writeFile(path.join(dir, "pid"), String(child.pid));
      return { ...handle, launched: true };
    },
    async state(handle): Promise<TWorkloadState> {
      const dir = dirOf(handle);
      const exit = await readText(path.join(dir, "exit_code"));
      if (exit !== null && exit.trim() !== "") return { phase: "exited", exitCode: Number.parseInt(exit.trim(), 10) };
      const pid = await pidOf(handle);
      if (pid === null) {
        const lock = await stat(path.join(dir, "launch.lock")).catch(() => null);
        if (lock && Date.now() - lock.mtimeMs < graceMs) return { phase: "running" };
        return { phase: "lost", reason: lock ? "the launch was interrupted before the process started" : "the workload was never launched" };
      }
      if (isAlive(pid)) return { phase: "running" };
      // The wrapper may have exited between the two reads.
      const again = await readText(path.join(dir, "exit_code"));
      if (again !== null && again.trim() !== "") return { phase: "exited", exitCode: Number.parseInt(again.trim(), 10) };
      return { phase: "lost", reason: `process ${pid} is gone without an exit status (killed)` };
    },
    async readEvents(handle, offset) {
      let fh;
      try {
        fh = await open(path.join(dirOf(handle), "stdout.jsonl"), "r");
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return { lines: [], offset };
        throw error;
      }
      try {
        const { size } = await fh.stat();
        if (size <= offset) return { lines: [], offset };
        const buf = Buffer.alloc(Math.min(size - offset, 8 * 1024 * 1024));
        const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
        const text = buf.subarray(0, bytesRead);
        const lastNewline = text.lastIndexOf(0x0a);
        if (lastNewline < 0) return { lines: [], offset };
        const lines = text.subarray(0, lastNewline).toString("utf8").split("\n").filter((l) => l.trim() !== "");
        return { lines, offset: offset + lastNewline + 1 };
      } finally {
        await fh.close();
      }
    },
    logsUri(handle) {
      return pathToFileURL(path.join(dirOf(handle), "stderr.log")).href;
    },
    async tailLogs(handle, lines) {
      const text = (await readText(path.join(dirOf(handle), "stderr.log"))) ?? "";
      return text.split("\n").filter((l) => l.trim() !== "").slice(-lines);
    },
    async cancel(handle) {
      const pid = await pidOf(handle);
      if (pid === null || !isAlive(pid)) return;
      const signal = (sig: NodeJS.Signals) => {
        try {
          process.kill(-pid, sig);
        } catch {
          // already gone
        }
      };
      // SIGTERM first: the training loop checkpoints on SIGTERM; SIGKILL whatever is left after the grace period.
      signal("SIGTERM");
      for (let i = 0; i < 50 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
      signal("SIGKILL");
    },
    hostPath(workloadPath) {
      // Local workloads run on this machine: what they see is what the worker sees.
      return path.resolve(workloadPath.startsWith("file://") ? fileURLToPath(workloadPath) : workloadPath);
    },
    async readOutputFile(handle, relativePath) {
      return readText(path.join(handle.outputDir, relativePath));
    },
  };
}
