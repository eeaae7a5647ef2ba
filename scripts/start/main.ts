// `npm start`: the whole product on this machine with local defaults. Checks the toolchain, finds or starts Postgres
// and Redis, migrates, creates the first admin, seeds the demo project, then runs web, workers and gateway until
// Ctrl-C, which stops them in order (traffic first, work last, storage after that).
import { existsSync } from "node:fs";
import path from "node:path";
import { createPrismaClient, findProjectById } from "@loraplane/db";
import { ensureDatabase, MIGRATIONS_DIR, runMigrations } from "@loraplane/db/migrate";
import { ensureFirstAdmin, ensureSecretsFile, getPipeline, seedDemoProject, type SeedResult } from "@loraplane/services";
import { createTrafficToken, ensureDemoApprover, firstStartLines } from "./first-start.ts";
import { probePostgres, redactUrl, startEmbeddedPostgres, type EmbeddedPostgres } from "./postgres.ts";
import { superviseServices } from "./lifecycle.ts";
import { Supervisor } from "./processes.ts";
import { hasRedisServer, probeRedis, redisServerArgs, waitForRedis } from "./redis.ts";
import { StopSignals } from "./signals.ts";
import { checkNode, findPython } from "./versions.ts";
import { waitForHttp } from "./wait.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const STATE_DIR = path.join(ROOT, ".loraplane");
const SECRETS_FILE = path.join(STATE_DIR, "secrets.env");
// Where datasets, models and run outputs live. One value for the demo seed and every process: a LORAPLANE_DATA_DIR
// that only the services saw would put the seeded dataset outside the project's storage prefix they check.
const DATA_DIR = path.resolve(process.env.LORAPLANE_DATA_DIR ?? path.join(STATE_DIR, "data"));
const VENV_PYTHON = path.join(ROOT, "gpu-runtime", ".venv", "bin", "python");
const DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/loraplane";
const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";
// Not 5432: an embedded cluster must never be mistaken for a system Postgres started later on the default port.
const EMBEDDED_PG_PORT = 54329;
const STOP_GRACE_MS = 20_000;

const supervisor = new Supervisor();
const say = supervisor.prefix("start");

class StartError extends Error {}
/** A stop signal arrived while setting up: not a failure, the user asked to stop. */
class StopRequested extends Error {}

function fail(message: string): never {
  throw new StartError(message);
}

// setup-venv.sh is idempotent (a stamp of the requirement files), so running it every start also picks up changed pins.
async function ensureVenv(): Promise<void> {
  const script = path.join(ROOT, "gpu-runtime", "scripts", "setup-venv.sh");
  if (!existsSync(script)) {
    if (existsSync(VENV_PYTHON)) return;
    fail(`gpu-runtime/.venv is missing and ${path.relative(ROOT, script)} does not exist to create it.`);
  }
  if (!existsSync(VENV_PYTHON)) say("creating the gpu-runtime virtualenv (offline wheels; first start only)…");
  await supervisor.run("venv", "bash", [script], { cwd: ROOT });
}

async function resolvePostgres(stack: Array<() => Promise<void>>): Promise<string> {
  const configured = process.env.DATABASE_URL;
  const embeddedDir = path.join(STATE_DIR, "postgres");
  // A cluster created by an earlier start holds this install's data: keep using it even if a system Postgres appeared.
  const useEmbedded = !configured && existsSync(path.join(embeddedDir, "PG_VERSION"));
  if (!useEmbedded) {
    const url = configured ?? DEFAULT_DATABASE_URL;
    const probe = await probePostgres(url);
    if (probe.ok) {
      say(`Postgres: ${redactUrl(url)}`);
      return url;
    }
    if (configured || probe.reachable) {
      fail(
        `cannot use Postgres at ${redactUrl(url)}: ${probe.message}.\n` +
          (configured
            ? "Fix DATABASE_URL (postgresql://USER:PASSWORD@HOST:PORT/DATABASE) or unset it to use a local or embedded Postgres."
            : "A server answers on the default port but refused the connection: set DATABASE_URL with working credentials."),
      );
    }
    say(`no Postgres at ${redactUrl(url)} (${probe.message}); starting the embedded one in .loraplane/postgres`);
  } else {
    say("Postgres: the embedded cluster in .loraplane/postgres");
  }
  const { values } = await ensureSecretsFile(SECRETS_FILE, ["LORAPLANE_EMBEDDED_PG_PASSWORD"]);
  let embedded: EmbeddedPostgres;
  try {
    embedded = await startEmbeddedPostgres({
      dataDir: embeddedDir,
      port: EMBEDDED_PG_PORT,
      password: values.LORAPLANE_EMBEDDED_PG_PASSWORD!,
      log: supervisor.prefix("postgres"),
    });
  } catch (error) {
    fail(
      `${(error as Error).message}\nInstall PostgreSQL 15+ (Debian: apt-get install postgresql) or set DATABASE_URL to a reachable server.`,
    );
  }
  stack.push(() => embedded.stop());
  return embedded.url;
}

async function resolveRedis(): Promise<string> {
  const configured = process.env.REDIS_URL;
  const url = configured ?? DEFAULT_REDIS_URL;
  const probe = await probeRedis(url);
  if (probe.ok) {
    say(`Redis: ${redactUrl(url)}`);
    return url;
  }
  if (configured) fail(`cannot reach Redis at ${redactUrl(url)}: ${probe.message}. Fix REDIS_URL or unset it to use a local Redis.`);
  if (!hasRedisServer()) {
    fail(
      `no Redis at ${url} (${probe.message}) and redis-server is not installed.\n` +
        "Install Redis 7 (Debian: apt-get install redis-server; macOS: brew install redis) or set REDIS_URL to a reachable server.",
    );
  }
  const port = Number(new URL(url).port || 6379);
  say(`no Redis at ${url}; starting redis-server with its data in .loraplane/redis`);
  supervisor.start("redis", "redis-server", await redisServerArgs(path.join(STATE_DIR, "redis"), port), { cwd: ROOT });
  if (!(await waitForRedis(url, 15_000))) fail("redis-server did not answer within 15 s (see the [redis] lines above).");
  return url;
}

/** What `npm start` has brought up, for commands built on it (`npm run demo`). */
export interface TStartedStack {
  databaseUrl: string;
  webUrl: string;
  gatewayUrl: string;
  admin: { userId: string; email: string };
  seed: SeedResult;
  /** A line printer with its own prefix, in the supervisor's interleaved output. */
  prefix: (name: string) => (line: string) => void;
}

export interface TStartHooks {
  /** Called once web, gateway and workers all answer their health checks. */
  onReady?: (stack: TStartedStack) => Promise<void>;
}

async function main(hooks: TStartHooks): Promise<number> {
  // Installed before anything is started, so no signal at any moment can end us with a child still running.
  const signals = new StopSignals(say);
  signals.onHurry(() => supervisor.hurry());
  void signals.stopped.then(() => supervisor.interruptSetup());
  const checkStop = () => {
    if (signals.requested) throw new StopRequested();
  };
  const nodeProblem = checkNode();
  if (nodeProblem) fail(nodeProblem);
  const python = findPython();
  if ("error" in python) fail(python.error);
  await ensureVenv().catch((error: unknown) => {
    checkStop();
    throw error;
  });
  checkStop();

  const secrets = await ensureSecretsFile(SECRETS_FILE, ["NEXTAUTH_SECRET", "LORAPLANE_SECRET_KEY"]);
  if (secrets.created.length) say(`generated ${secrets.created.join(", ")} into .loraplane/secrets.env (mode 0600)`);

  // Passwords and tokens created by this start: printed once, in the banner — or, if the start fails before it, then.
  let secretLines: string[] = [];
  let bannerShown = false;
  // Storage started by us, stopped in reverse order after the app processes.
  const storage: Array<() => Promise<void>> = [];
  const shutdownStorage = async () => {
    for (const stop of storage.reverse()) await stop().catch((e: unknown) => say(`stop failed: ${String(e)}`));
  };
  try {
    const databaseUrl = await resolvePostgres(storage);
    checkStop();
    const redisUrl = await resolveRedis();
    if (supervisor.running.some((p) => p.name === "redis")) {
      storage.push(() => supervisor.stop(["redis"], STOP_GRACE_MS, say));
    }

    if (await ensureDatabase(databaseUrl)) say(`created database ${new URL(databaseUrl).pathname.slice(1)}`);
    const migrated = await runMigrations({ databaseUrl, migrationsDir: MIGRATIONS_DIR });
    say(migrated.applied.length ? `applied migrations: ${migrated.applied.join(", ")}` : "database schema is up to date");
    checkStop();

    const db = createPrismaClient({ url: databaseUrl, poolSize: 2 });
    let admin;
    let seed;
    let firstStart: Parameters<typeof firstStartLines>[0];
    try {
      admin = await ensureFirstAdmin(db);
      if (admin.password) {
        say(`created the first admin ${admin.email} (its password is in the summary below, shown once)`);
        secretLines = [`  First admin: ${admin.email}  password: ${admin.password}`];
      }
      seed = await seedDemoProject(db, {
        dataDir: DATA_DIR,
        python: VENV_PYTHON,
        ownerId: admin.userId,
        runCommand: (name, command, args) => supervisor.run(name, command, args, { cwd: path.join(ROOT, "gpu-runtime") }),
        log: say,
      });
      const approver = await ensureDemoApprover(db, seed.projectId);
      if (approver?.password) secretLines.push(`  Approver: ${approver.email}  password: ${approver.password}`);
      const trafficToken = admin.password ? await createTrafficToken(db, admin.userId, seed.projectId) : null;
      const spec = (await getPipeline(db, seed.pipelineId)).spec as { deploy?: { endpointName?: string } };
      firstStart = {
        admin,
        approver,
        projectName: seed.projectName,
        projectSlug: (await findProjectById(db, seed.projectId))?.slug ?? seed.projectId,
        pipelineName: seed.pipelineName,
        endpoint: spec.deploy?.endpointName ?? null,
        gatewayUrl: "http://127.0.0.1:8080",
        trafficToken,
      };
    } finally {
      await db.$disconnect();
    }
    checkStop();

    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DATABASE_URL: databaseUrl,
      REDIS_URL: redisUrl,
      NEXTAUTH_SECRET: process.env.NEXTAUTH_SECRET ?? secrets.values.NEXTAUTH_SECRET,
      LORAPLANE_SECRET_KEY: process.env.LORAPLANE_SECRET_KEY ?? secrets.values.LORAPLANE_SECRET_KEY,
      LORAPLANE_DATA_DIR: DATA_DIR,
      GPU_RUNTIME_PYTHON: process.env.GPU_RUNTIME_PYTHON ?? VENV_PYTHON,
      // The product must not call public services; Next.js would otherwise send telemetry.
      NEXT_TELEMETRY_DISABLED: "1",
    };

    if (!existsSync(path.join(ROOT, "apps", "web", ".next", "BUILD_ID"))) {
      say("building the web app (first start only, a few minutes)…");
      await supervisor.run("build", "npm", ["run", "build", "-w", "@loraplane/web"], { cwd: ROOT, env });
    }
    checkStop();

    const onStarted = () => void Promise.all([
      // Readiness, not liveness: the database and the authentication path answer, so the printed URLs really work.
      waitForHttp("http://127.0.0.1:3000/api/ready", 180_000),
      waitForHttp("http://127.0.0.1:8080/health", 60_000),
      waitForHttp("http://127.0.0.1:9464/health", 60_000),
    ]).then(([web, gateway, workers]) => {
      const state = (ok: boolean) => (ok ? "up" : "NOT answering yet — see its log lines");
      const lines = [
        "",
        "Loraplane is running.",
        `  Dashboard + REST API  http://127.0.0.1:3000        (${state(web)})`,
        `  OpenAPI document      http://127.0.0.1:3000/api/v1/openapi.json`,
        `  Inference gateway     http://127.0.0.1:8080/v1     (${state(gateway)})`,
        `  Workers health        http://127.0.0.1:9464/health (${state(workers)})`,
        "",
        ...firstStartLines(firstStart),
        "",
        "Ctrl-C stops everything.",
      ];
      for (const line of lines) say(line);
      bannerShown = true;
      if (web && gateway && workers && hooks.onReady) {
        const stack = { databaseUrl, webUrl: "http://127.0.0.1:3000", gatewayUrl: "http://127.0.0.1:8080", admin, seed, prefix: (name: string) => supervisor.prefix(name) };
        hooks.onReady(stack).catch((error: unknown) => say(`${(error as Error).message}`));
      }
    });

    const outcome = await superviseServices({
      supervisor,
      signals,
      services: [
        { name: "workers", command: "npm", args: ["start", "-w", "@loraplane/workers"], options: { cwd: ROOT, env } },
        { name: "gateway", command: "npm", args: ["start", "-w", "@loraplane/gateway"], options: { cwd: ROOT, env } },
        { name: "web", command: "npm", args: ["start", "-w", "@loraplane/web"], options: { cwd: ROOT, env } },
      ],
      // Traffic first (gateway, web), then the workers so in-flight jobs are handed back, storage last.
      stopOrder: ["gateway", "web", "workers"],
      graceMs: STOP_GRACE_MS,
      say,
      onStarted,
    });
    await shutdownStorage();
    if (!bannerShown && secretLines.length) for (const line of [...secretLines, "  (shown only this once)"]) say(line);
    say("stopped");
    return outcome.code;
  } catch (error) {
    await supervisor.stop(["gateway", "web", "workers"], STOP_GRACE_MS, say);
    await shutdownStorage();
    // The banner never came: this is the only chance to see what was created.
    if (!bannerShown && secretLines.length) for (const line of [...secretLines, "  (shown only this once)"]) say(line);
    if (error instanceof StopRequested || signals.requested) {
      say("stopped before everything had started");
      return 0;
    }
    throw error;
  }
}

export function runStart(hooks: TStartHooks = {}): void {
  main(hooks).then(
    (code) => process.exit(code),
    (error: unknown) => {
      if (error instanceof StopRequested) {
        say("stopped before anything was started");
        process.exit(0);
      }
      say(error instanceof StartError ? `cannot start: ${error.message}` : `failed: ${(error as Error).stack ?? String(error)}`);
      process.exit(1);
    },
  );
}
