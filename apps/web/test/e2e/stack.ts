// Starts what a browser test needs: a cloned database seeded through the services, the built web app, the worker
// process, and Chromium. Everything runs on loopback ports 3200–3299 and is torn down in reverse order.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createPrismaClient, type Db } from "@loraplane/db";
import { databaseUrl, dropDatabase, ensureTemplate } from "@loraplane/db/testing";
import pg from "pg";
import { createUser, seedDemoProject, setMembers } from "@loraplane/services";
import { chromium, type Browser } from "playwright-core";

export const WEB_DIR = fileURLToPath(new URL("../..", import.meta.url));
export const REPO_ROOT = path.resolve(WEB_DIR, "../..");
export const SCREENSHOTS = path.join(WEB_DIR, "test/e2e/screenshots");
const PYTHON = path.join(REPO_ROOT, "gpu-runtime/.venv/bin/python");

export interface TStack {
  baseUrl: string;
  db: Db;
  database: { name: string; url: string };
  dataDir: string;
  admin: { id: string; email: string; password: string };
  approver: { id: string; email: string; password: string };
  projectId: string;
  demoPipelineId: string;
  browser: Browser;
  logs: () => string;
  stop: () => Promise<void>;
}

function startProcess(name: string, command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }, sink: string[]): ChildProcess {
  const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  const keep = (chunk: Buffer) => {
    for (const line of chunk.toString().split("\n")) if (line.trim()) sink.push(`[${name}] ${line}`);
    if (sink.length > 4000) sink.splice(0, sink.length - 4000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  return child;
}

async function stopProcess(child: ChildProcess | undefined): Promise<void> {
  if (!child?.pid || child.exitCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  // The process group: `next start` and the worker spawn children (training, serving) that must go too.
  try {
    process.kill(-child.pid, "SIGTERM");
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      // already gone
    }
  }, 10_000);
  await exited;
  clearTimeout(timer);
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, "SIGTERM");
  } catch {
    // already gone
  }
}

/**
 * Workloads outlive the worker on purpose (a restarted worker re-attaches to them), so the test stops them itself:
 * training/eval jobs by the pid file the local executor writes, serving backends by the pid in their instance row.
 */
async function stopWorkloads(db: Db, dataDir: string): Promise<void> {
  const pidFiles = (await readdir(dataDir, { recursive: true }).catch(() => [] as string[])).filter((f) => path.basename(f) === "pid");
  for (const file of pidFiles) {
    const pid = Number((await readFile(path.join(dataDir, file), "utf8").catch(() => "")).trim());
    if (Number.isInteger(pid) && pid > 1) killGroup(pid);
  }
  for (const instance of await db.servingInstance.findMany({ select: { externalId: true } })) {
    const pid = Number(/^pid:(\d+)/.exec(instance.externalId ?? "")?.[1]);
    if (Number.isInteger(pid) && pid > 1) killGroup(pid);
  }
}

/**
 * A clone of the migrated test template, like createTestDatabase(), but named lp_e2e_*: a browser run lasts minutes,
 * and the integration suites' start-up sweep of stale lp_test_* databases (other packages starting meanwhile) must
 * not drop it underneath the running app.
 */
async function cloneTemplate(label: string): Promise<{ name: string; url: string; drop: () => Promise<void> }> {
  const template = await ensureTemplate();
  const name = `lp_e2e_${label}_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: databaseUrl("postgres") });
  await admin.connect();
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await admin.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`);
        break;
      } catch (error) {
        // 55006: another clone of the template is being made right now; it takes milliseconds.
        if ((error as { code?: string }).code !== "55006" || attempt > 50) throw error;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } finally {
    await admin.end();
  }
  return { name, url: databaseUrl(name), drop: () => dropDatabase(name) };
}

async function waitForHttp(url: string, timeoutMs: number, alive: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!alive()) throw new Error(`process serving ${url} exited`);
    try {
      const response = await fetch(url);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`);
}

export async function startStack(options: { port: number; label: string; worker?: boolean }): Promise<TStack> {
  if (!existsSync(path.join(WEB_DIR, ".next/BUILD_ID"))) throw new Error("apps/web is not built: run `npx next build` in apps/web first (`npx turbo run test:e2e --filter=@loraplane/web` does)");
  if (!existsSync("/usr/bin/chromium")) throw new Error("/usr/bin/chromium is missing: apt-get install -y chromium");
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: run gpu-runtime's setup-venv script first`);

  const logLines: string[] = [];
  const database = await cloneTemplate(options.label);
  const db = createPrismaClient({ url: database.url, poolSize: 4 });
  const dataDir = await mkdtemp(path.join(tmpdir(), `lp-e2e-${options.label}-`));
  const baseUrl = `http://127.0.0.1:${options.port}`;
  const system = { type: "system" as const, userId: null };

  const adminPassword = `admin-${randomBytes(8).toString("hex")}`;
  const approverPassword = `approver-${randomBytes(8).toString("hex")}`;
  const { user: adminUser } = await createUser(db, { email: "admin@e2e.test", name: "Ada Admin", role: "admin", password: adminPassword }, system);
  const { user: approverUser } = await createUser(db, { email: "approver@e2e.test", name: "Grace Approver", role: "viewer", password: approverPassword }, system);
  const seeded = await seedDemoProject(db, {
    dataDir,
    python: PYTHON,
    ownerId: adminUser.id,
    runCommand: (name, command, args) =>
      new Promise((resolve, reject) => {
        const child = spawn(command, args, { cwd: REPO_ROOT, stdio: "ignore" });
        child.once("error", reject);
        child.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${name}: ${command} ${args.join(" ")} exited with ${code}`))));
      }),
  });
  await setMembers(db, seeded.projectId, [{ userId: adminUser.id, role: "admin" }, { userId: approverUser.id, role: "approver" }], { type: "user", userId: adminUser.id });

  const queuePrefix = `lp-e2e-${options.label}-${randomBytes(3).toString("hex")}`;
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: "production",
    DATABASE_URL: database.url,
    REDIS_URL: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
    QUEUE_PREFIX: queuePrefix,
    LORAPLANE_DATA_DIR: dataDir,
    NEXTAUTH_URL: baseUrl,
    NEXTAUTH_SECRET: randomBytes(32).toString("hex"),
    LORAPLANE_SECRET_KEY: randomBytes(32).toString("hex"),
    LOG_LEVEL: "warn",
    NEXT_TELEMETRY_DISABLED: "1",
  };
  const web = startProcess("web", path.join(REPO_ROOT, "node_modules/.bin/next"), ["start", "-p", String(options.port), "-H", "127.0.0.1"], { cwd: WEB_DIR, env }, logLines);
  let worker: ChildProcess | undefined;
  let browser: Browser | undefined;
  const stop = async () => {
    await browser?.close().catch(() => {});
    await stopProcess(worker);
    await stopWorkloads(db, dataDir);
    await stopProcess(web);
    await db.$disconnect();
    await database.drop();
    await rm(dataDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 300 });
  };
  try {
    await waitForHttp(`${baseUrl}/api/health`, 60_000, () => web.exitCode === null);
    if (options.worker !== false) {
      worker = startProcess(
        "worker",
        path.join(REPO_ROOT, "node_modules/.bin/tsx"),
        ["workers/src/main.ts"],
        {
          cwd: REPO_ROOT,
          env: { ...env, NODE_ENV: "test", LORAPLANE_PUBLIC_URL: baseUrl, GPU_RUNTIME_PYTHON: PYTHON, WORKER_HEALTH_PORT: String(options.port + 1), WORKER_CONCURRENCY: "2", RECONCILE_INTERVAL_MS: "2000" },
        },
        logLines,
      );
    }
    browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
  } catch (error) {
    const tail = logLines.slice(-40).join("\n");
    await stop();
    throw new Error(`${(error as Error).message}\n${tail}`);
  }
  return {
    baseUrl,
    db,
    database,
    dataDir,
    admin: { id: adminUser.id, email: adminUser.email, password: adminPassword },
    approver: { id: approverUser.id, email: approverUser.email, password: approverPassword },
    projectId: seeded.projectId,
    demoPipelineId: seeded.pipelineId,
    browser,
    logs: () => logLines.slice(-80).join("\n"),
    stop,
  };
}
