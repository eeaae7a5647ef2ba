// Local training and evaluation run at a lower CPU priority than serving (nice 19 by default), so a run that trains on
// the machine that also serves does not starve the serving processes into SLO breaches.
import { mkdtempSync, readFileSync, existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect, it } from "vitest";
import { createLocalExecutor } from "../../src/executors/local.ts";
import type { TWorkloadSpec } from "../../src/executors/types.ts";

// Field 19 of /proc/<pid>/stat is the nice value of the workload process itself.
const PRINT_NICE = ["/bin/sh", "-c", "cut -d' ' -f19 /proc/$$/stat"];

async function niceOf(niceness: number | undefined): Promise<number> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "lp-nice-"));
  const ex = createLocalExecutor({ dataDir: dir, baseEnv: () => ({ PATH: "/usr/bin:/bin" }), command: () => PRINT_NICE, ...(niceness === undefined ? {} : { niceness }) });
  const spec = { runId: `r${Math.random().toString(36).slice(2, 8)}`, stage: "train", attempt: 1, job: { paths: {} }, command: "train", resources: { gpus: 0, cpu: "1", memory: "1Gi", nodeSelector: {}, tolerations: [], spot: false }, env: {} } as unknown as TWorkloadSpec;
  const handle = await ex.launch(spec);
  const runDir = path.join(dir, "runs", handle.externalId);
  for (let i = 0; i < 100 && !existsSync(path.join(runDir, "exit_code")); i++) await new Promise((r) => setTimeout(r, 50));
  return Number(readFileSync(path.join(runDir, "stdout.jsonl"), "utf8").trim());
}

it("runs local workloads under nice 19 by default, and at normal priority when niceness is 0", async () => {
  expect(await niceOf(undefined)).toBe(19);
  const own = Number(readFileSync("/proc/self/stat", "utf8").split(") ")[1]!.split(" ")[16]);
  expect(await niceOf(0)).toBe(own);
});
