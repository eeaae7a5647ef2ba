// Ctrl-C for `npm start` (issue 17 item 17). A terminal sends SIGINT to the whole foreground process group — npm, sh,
// tsx and the start script — and npm and tsx relay it, so the script receives it several times. The script under
// test is npm start's real signal handling and ordered stop (scripts/start) with three stand-in services; it runs
// under `npx tsx` in its own process group, and the test signals that group the way a terminal does.
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "../..");
const FIXTURE = path.join(import.meta.dirname, "fixtures", "fake-start.ts");
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
/** Running, not a zombie waiting for a parent (in a container, PID 1 may never reap orphans). */
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

function groupMembers(pgid: number): number[] {
  return readdirSync("/proc")
    .filter((f) => /^\d+$/.test(f))
    .map(Number)
    .filter((pid) => {
      try {
        // pid (comm) state ppid pgrp …: comm may contain spaces, so split after its closing parenthesis.
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]) === pgid;
      } catch {
        return false;
      }
    });
}

async function until(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return true;
    await sleep(100);
  }
  return check();
}

/** `npx tsx fake-start.ts` as the foreground job of a terminal: its own process group, led by npm. */
function startInOwnGroup(mode: string, graceMs: number) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "lp-signals-"));
  dirs.push(dir);
  const child = spawn("npx", ["tsx", FIXTURE, dir, mode, String(graceMs)], { cwd: ROOT, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  const pgid = child.pid!;
  // The group is gone once none of its members runs (zombies do not count).
  const groupAlive = () => kill(-pgid, 0) && groupMembers(pgid).some(alive);
  return { dir, pgid, output: () => output, groupAlive };
}

describe("npm start and Ctrl-C", () => {
  it("stops every service in order when the whole group gets SIGINT, relayed copies included", async () => {
    const job = startInOwnGroup("normal", 20_000);
    expect(await until(() => ["web", "workers", "gateway"].every((n) => job.output().includes(`${n} ready`)), 60_000), job.output()).toBe(true);
    const pids = pidsIn(job.dir);
    expect(pids).toHaveLength(3);
    // The key press: every process of the group gets SIGINT (npm and tsx then relay it once more each).
    kill(-job.pgid, "SIGINT");
    await sleep(50);
    kill(-job.pgid, "SIGINT");
    expect(await until(() => !job.groupAlive(), 30_000), job.output()).toBe(true);
    expect(pids.filter(alive), job.output()).toEqual([]);
    const out = job.output();
    expect(out).toMatch(/stopping gateway…[\s\S]*stopping web…[\s\S]*stopping workers…[\s\S]*\[start\] stopped/);
    expect(out).not.toContain("stopping faster");
  });

  it("a second, deliberate Ctrl-C hurries the stop (kills instead of waiting out the grace period) and still leaves nothing running", async () => {
    // Services that ignore SIGTERM: without the second Ctrl-C the stop would wait 20 s per service.
    const job = startInOwnGroup("stubborn", 20_000);
    expect(await until(() => ["web", "workers", "gateway"].every((n) => job.output().includes(`${n} ready`)), 60_000), job.output()).toBe(true);
    const pids = pidsIn(job.dir);
    const started = Date.now();
    kill(-job.pgid, "SIGINT");
    await sleep(2000);
    expect(job.groupAlive()).toBe(true); // still waiting for the gateway to stop
    kill(-job.pgid, "SIGINT");
    expect(await until(() => !job.groupAlive(), 15_000), job.output()).toBe(true);
    expect(Date.now() - started).toBeLessThan(12_000);
    expect(pids.filter(alive), job.output()).toEqual([]);
    expect(job.output()).toContain("stopping faster");
  });
});
