// Child processes of `npm start`: each runs in its own process group (so npm → sh → node trees are signalled as a
// whole and Ctrl-C in the terminal reaches only us), its output is prefixed with its name, and shutdown is ordered.
import { spawn, type ChildProcess } from "node:child_process";
import readline from "node:readline";

const COLORS = [36, 35, 33, 32, 34, 31];

export interface Managed {
  name: string;
  child: ChildProcess;
  exited: Promise<number | null>;
  stopping: boolean;
  /** Started by `run` (a setup step that runs to completion), not a long-running service. */
  oneShot: boolean;
  /** Its output is closed: the leader and everything that inherited its stdout/stderr have ended. */
  closed: boolean;
}

export interface SpawnOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

export class Supervisor {
  private readonly processes: Managed[] = [];
  private colorIndex = 0;
  private readonly useColor: boolean;
  private hurried = false;

  constructor(private readonly out: NodeJS.WritableStream = process.stdout) {
    this.useColor = (out as { isTTY?: boolean }).isTTY === true;
    // Whatever ends this process, no group it started may outlive it.
    process.on("exit", () => {
      for (const p of this.processes) if (isRunning(p)) killGroup(p.child, "SIGKILL");
    });
  }

  prefix(name: string): (line: string) => void {
    const color = COLORS[this.colorIndex++ % COLORS.length];
    const label = this.useColor ? `\x1b[${color}m[${name}]\x1b[0m` : `[${name}]`;
    return (line: string) => this.out.write(`${label} ${line}\n`);
  }

  start(name: string, command: string, args: string[], options: SpawnOptions = {}): Managed {
    const write = this.prefix(name);
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    readline.createInterface({ input: child.stdout! }).on("line", write);
    readline.createInterface({ input: child.stderr! }).on("line", write);
    const managed: Managed = { name, child, exited: Promise.resolve(null), stopping: false, oneShot: false, closed: false };
    managed.exited = new Promise<number | null>((resolve) => {
      child.on("error", (error) => {
        write(`could not start ${command}: ${error.message}`);
        managed.closed = true;
        resolve(127);
      });
      // "close", not "exit": it fires once stdout/stderr are drained — the leader (npm) and what inherited its output
      // (sh, node) have all ended — so a process's last lines are printed before anything that waits for it continues.
      child.on("close", (code, signal) => {
        managed.closed = true;
        resolve(code ?? (signal ? 128 : null));
      });
    });
    this.processes.push(managed);
    return managed;
  }

  /** Runs a command to completion with prefixed output; rejects with its exit code when it fails. */
  async run(name: string, command: string, args: string[], options: SpawnOptions = {}): Promise<void> {
    const managed = this.start(name, command, args, options);
    managed.oneShot = true;
    const code = await managed.exited;
    this.processes.splice(this.processes.indexOf(managed), 1);
    if (code !== 0) throw new Error(`${name}: \`${[command, ...args].join(" ")}\` exited with code ${code}`);
  }

  /** Stops the named processes one after the other: SIGTERM, then SIGKILL after `graceMs` (at once once hurried). */
  async stop(names: string[], graceMs: number, log: (line: string) => void): Promise<void> {
    for (const name of names) {
      const managed = this.processes.find((p) => p.name === name);
      if (!managed || !isRunning(managed)) continue;
      managed.stopping = true;
      log(`stopping ${name}…`);
      killGroup(managed.child, this.hurried ? "SIGKILL" : "SIGTERM");
      const timer = setTimeout(() => {
        log(`${name} did not stop within ${graceMs / 1000} s; killing it`);
        killGroup(managed.child, "SIGKILL");
      }, graceMs);
      await managed.exited;
      clearTimeout(timer);
    }
  }

  /** Ends setup steps started by `run` (a build, the venv, the demo's training) so that a stop during setup is prompt. */
  interruptSetup(): void {
    for (const p of this.processes) {
      if (!p.oneShot || !isRunning(p)) continue;
      p.stopping = true;
      killGroup(p.child, "SIGTERM");
    }
  }

  /** A second Ctrl-C: whatever is being stopped, and everything stopped from now on, is killed without a grace period. */
  hurry(): void {
    this.hurried = true;
    for (const p of this.processes) if (p.stopping && isRunning(p)) killGroup(p.child, "SIGKILL");
  }

  get running(): readonly Managed[] {
    return this.processes;
  }
}

// Not `child.exitCode`: npm may exit before the node process it started, which still belongs to the group.
function isRunning(p: Managed): boolean {
  return !p.closed;
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // The group is already gone.
  }
}
