// Child processes for end-to-end tests: each runs in its own process group (so stopping it also stops what it spawned),
// its output is kept in a ring for failure messages, and anything left running under the test's data folder — detached
// training and serving processes the worker started — is found through /proc and stopped too.
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readlinkSync } from "node:fs";

export interface TChild {
  name: string;
  process: ChildProcess;
  alive(): boolean;
}

export class ProcessGroup {
  private readonly children: TChild[] = [];
  private readonly lines: string[] = [];

  constructor(private readonly maxLines = 3000) {
    // Last resort when the test runner itself is torn down: no child may outlive it.
    process.once("exit", () => {
      for (const c of this.children) signalGroup(c.process.pid, "SIGKILL");
    });
  }

  start(name: string, command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): TChild {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    const keep = (chunk: Buffer) => {
      for (const line of chunk.toString().split("\n")) if (line.trim()) this.lines.push(`[${name}] ${line}`);
      if (this.lines.length > this.maxLines) this.lines.splice(0, this.lines.length - this.maxLines);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    const entry: TChild = { name, process: child, alive: () => child.exitCode === null && child.signalCode === null };
    this.children.push(entry);
    return entry;
  }

  tail(n = 60, filter?: RegExp): string {
    const lines = filter ? this.lines.filter((l) => filter.test(l)) : this.lines;
    return lines.slice(-n).join("\n");
  }

  /** Stops the children in the given order (SIGTERM, SIGKILL after graceMs), then every process left under `dataDir`. */
  async stopAll(order: string[], dataDir: string | null, graceMs = 10_000): Promise<void> {
    const byOrder = [...this.children].sort((a, b) => rank(order, a.name) - rank(order, b.name));
    for (const c of byOrder) await stopChild(c, graceMs);
    if (dataDir) await stopStragglers(dataDir, graceMs);
  }
}

function rank(order: string[], name: string): number {
  const i = order.indexOf(name);
  return i === -1 ? order.length : i;
}

function signalGroup(pid: number | undefined, signal: NodeJS.Signals): boolean {
  if (!pid) return false;
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

async function stopChild(c: TChild, graceMs: number): Promise<void> {
  const pid = c.process.pid;
  if (!pid) return;
  if (c.alive()) {
    const exited = new Promise<void>((resolve) => c.process.once("exit", () => resolve()));
    signalGroup(pid, "SIGTERM");
    const timer = setTimeout(() => signalGroup(pid, "SIGKILL"), graceMs);
    await exited;
    clearTimeout(timer);
  }
  // The leader may be gone while members of its group (npm → tsx → node) are not.
  signalGroup(pid, "SIGKILL");
}

/** Process ids whose working directory lies under `dir` (the local executor and serving backend run there). */
export function processesUnder(dir: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cwd = readlinkSync(`/proc/${entry}/cwd`);
      if (cwd === dir || cwd.startsWith(`${dir}/`)) found.push(Number(entry));
    } catch {
      // exited meanwhile, or not ours to read
    }
  }
  return found;
}

async function stopStragglers(dir: string, graceMs: number): Promise<void> {
  const pids = processesUnder(dir);
  for (const pid of pids) {
    if (!signalGroup(pid, "SIGTERM")) {
      try {
        process.kill(pid, "SIGTERM");
      } catch {
        // already gone
      }
    }
  }
  const deadline = Date.now() + graceMs;
  while (processesUnder(dir).length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  for (const pid of processesUnder(dir)) {
    if (!signalGroup(pid, "SIGKILL")) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
}

export async function waitForHttp(url: string, timeoutMs: number, alive: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer";
  while (Date.now() < deadline) {
    if (!alive()) throw new Error(`the process behind ${url} exited`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms (${last})`);
}
