// `npm start` / `npm run demo` must not run under a parent that kills them when they are slow to take Ctrl-C. The tsx
// CLI relays a signal to its child and, when the child has not confirmed it within 30 ms, kills it — with SIGKILL at
// the second miss. On a loaded machine (the demo's traffic, training beside it) that killed the supervisor in the
// middle of its ordered stop and left web and workers running in their own process groups. The root package.json's
// scripts must start the supervisor in a process that receives the terminal's signal itself (`node --import tsx`).
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, expect, it } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "../..");
const FIXTURE = path.join(import.meta.dirname, "fixtures", "busy-start.ts");
const scripts = (JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) {
    for (const pid of pidsIn(dir)) kill(pid, "SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
});

function kill(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}
function alive(pid: number): boolean {
  if (!kill(pid, 0)) return false;
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}
const pidsIn = (dir: string) => readdirSync(dir).filter((f) => f.endsWith(".pid")).map((f) => Number(readFileSync(path.join(dir, f), "utf8")));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return true;
    await sleep(100);
  }
  return check();
}

for (const name of ["start", "demo"] as const) {
  it(`npm run ${name}'s runner lets a busy supervisor finish its ordered stop on Ctrl-C`, { timeout: 90_000 }, async () => {
    const command = scripts[name]!;
    const entry = `scripts/${name}.ts`;
    expect(command.endsWith(` ${entry}`), command).toBe(true);
    const runner = command.slice(0, -entry.length).trim();
    const dir = mkdtempSync(path.join(os.tmpdir(), "lp-runner-"));
    dirs.push(dir);
    // As npm runs a script: `sh -c "<script>"`, with node_modules/.bin on PATH, as the terminal's foreground group.
    const child = spawn("sh", ["-c", `exec ${runner} ${JSON.stringify(FIXTURE)} ${JSON.stringify(dir)} normal 20000`], {
      cwd: ROOT,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, PATH: `${path.join(ROOT, "node_modules", ".bin")}:${process.env.PATH}` },
    });
    let output = "";
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
    expect(await until(() => ["web", "workers", "gateway"].every((n) => output.includes(`${n} ready`)), 60_000), output).toBe(true);
    const pids = pidsIn(dir);
    expect(pids).toHaveLength(3);
    kill(-child.pid!, "SIGINT");
    expect(await until(() => pids.every((p) => !alive(p)), 30_000), `services left running: ${pids.filter(alive).join(", ")}\n${output}`).toBe(true);
    // The supervisor itself ends on its own after the ordered stop (not killed by a relaying parent).
    expect(await Promise.race([exited, sleep(15_000).then(() => "still running")])).toBe(0);
    expect(output).toMatch(/stopping gateway…[\s\S]*stopping web…[\s\S]*stopping workers…[\s\S]*\[start\] stopped/);
  });
}

// The supervisor stops workers and gateway through their workspace `start` scripts: under the tsx CLI a busy worker
// that had not confirmed the relayed SIGTERM within 30 ms was killed in the middle of its drain.
for (const workspace of ["workers", "apps/gateway"]) {
  it(`${workspace}'s start script runs its service in a process that receives the stop signal itself`, () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, workspace, "package.json"), "utf8")) as { scripts: Record<string, string> };
    expect(pkg.scripts.start).toMatch(/^node --import tsx /);
  });
}
