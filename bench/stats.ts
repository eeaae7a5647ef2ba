// Shared by the benchmarks: one percentile definition, one way to read a process's CPU time and memory, and one way
// to run a benchmark's main.
import { existsSync, readFileSync } from "node:fs";

const TICKS = 100; // USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s
const PAGE = 4096;

/** Nearest-rank percentile (q in (0, 1]) of unsorted samples. */
export function percentile(samples: readonly number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** Runs a benchmark and exits: 0 when it finished, 1 with the error printed when it threw. */
export function runBenchmark(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}

/** CPU seconds (user + system) and resident bytes of a process, from /proc. */
export function procStat(pid: number): { cpuS: number; rss: number } {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  // Fields after "(comm) ": state is [0]; utime [11], stime [12]; rss (pages) [21].
  return { cpuS: (Number(fields[11]) + Number(fields[12])) / TICKS, rss: Number(fields[21]) * PAGE };
}

/** CPU seconds of a process and its direct children (nginx: the master and its worker). */
export function treeCpuSeconds(pid: number): number {
  return processTree(pid).reduce((sum, p) => sum + procStat(p).cpuS, 0);
}

/** Resident bytes of a process and its direct children. */
export function treeRssBytes(pid: number): number {
  return processTree(pid).reduce((sum, p) => sum + procStat(p).rss, 0);
}

function processTree(pid: number): number[] {
  const file = `/proc/${pid}/task/${pid}/children`;
  const children = existsSync(file) ? readFileSync(file, "utf8").trim().split(/\s+/).filter(Boolean).map(Number) : [];
  return [pid, ...children];
}
