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
}

export interface SpawnOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

export class Supervisor {
  private readonly processes: Managed[] = [];
  private colorIndex = 0;
  private readonly useColor: boolean;

  constructor(private readonly out: NodeJS.WritableStream = process.stdout) {
    this.useColor = (out as { isTTY?: boolean }).isTTY === true;
    // Whatever ends this process, no group it started may outlive it.
    process.on("exit", () => {
      for (const p of this.processes) if (p.child.exitCode === null && p.child.signalCode === null) killGroup(p.child, "SIGKILL");
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
    const exited = new Promise<number | null>((resolve) => {
      child.on("error", (error) => {
        write(`could not start ${command}: ${error.message}`);
        resolve(127);
      });
      // "close", not "exit": it fires once stdout/stderr are drained, so a process's last lines are printed before
      // anything that waits for it continues.
      child.on("close", (code, signal) => resolve(code ?? (signal ? 128 : null)));
    });
    const managed: Managed = { name, child, exited, stopping: false };
    this.processes.push(managed);
    return managed;
  }

  /** Runs a command to completion with prefixed output; rejects with its exit code when it fails. */
  async run(name: string, command: string, args: string[], options: SpawnOptions = {}): Promise<void> {
    const managed = this.start(name, command, args, options);
    const code = await managed.exited;
    this.processes.splice(this.processes.indexOf(managed), 1);
    if (code !== 0) throw new Error(`${name}: \`${[command, ...args].join(" ")}\` exited with code ${code}`);
  }

  /** Stops the named processes one after the other: SIGTERM, then SIGKILL after `graceMs`. */
  async stop(names: string[], graceMs: number, log: (line: string) => void): Promise<void> {
    for (const name of names) {
      const managed = this.processes.find((p) => p.name === name);
      if (!managed || managed.child.exitCode !== null || managed.child.signalCode !== null) continue;
      managed.stopping = true;
      log(`stopping ${name}…`);
      killGroup(managed.child, "SIGTERM");
      const timer = setTimeout(() => {
        log(`${name} did not stop within ${graceMs / 1000} s; killing it`);
        killGroup(managed.child, "SIGKILL");
      }, graceMs);
      await managed.exited;
      clearTimeout(timer);
    }
  }

  get running(): readonly Managed[] {
    return this.processes;
  }
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // The group is already gone.
  }
}
