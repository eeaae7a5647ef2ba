// A real worker process for crash tests (kill -9 and restart): the same app as src/main.ts with the fake workload
// and short lock/stall intervals, configured through the environment the test passes.
import { createPrismaClient } from "@loraplane/db";
import { pino } from "pino";
import { createLocalExecutor } from "../../src/executors/local.ts";
import { startWorkerApp } from "../../src/worker-app.ts";
import { workloadEnvironment } from "@loraplane/config";
import { FAKE_WORKLOAD, FAKE_WORKLOAD_ENV } from "./fixtures.ts";

const env = process.env;
const db = createPrismaClient({ url: env.DATABASE_URL!, poolSize: 4 });
await startWorkerApp({
  db,
  redisUrl: "redis://127.0.0.1:6379",
  prefix: env.QUEUE_PREFIX!,
  executor: createLocalExecutor({ dataDir: env.WORK_DIR!, baseEnv: () => workloadEnvironment(FAKE_WORKLOAD_ENV), command: (s) => [process.execPath, FAKE_WORKLOAD, s.command, "--config", "job.json"] }),
  log: pino({ level: "warn" }),
  concurrency: 2,
  reconcileIntervalMs: 1000,
  lockDurationMs: 2000,
  stalledIntervalMs: 1000,
  engine: { pollMs: 50, heartbeatTimeoutS: 30, logTailLines: 5, runTokenTtlS: 3600, publicUrl: "http://127.0.0.1:1" },
});
process.stdout.write("worker ready\n");
