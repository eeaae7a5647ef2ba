// The whole product on this machine for an end-to-end test: a fresh database with what an admin sets up once (users,
// a project, its members, environments, API tokens), a tiny model and a demo dataset built by the gpu-runtime and
// registered over the REST API, and the three processes a user runs — `next start`, the worker (real gpu-runtime
// training, evaluation and serving) and the gateway.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, realpathSync } from "node:fs";
import { rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { createPrismaClient, type Db } from "@loraplane/db";
import { createTestDatabase, type TestDatabase } from "@loraplane/db/testing";
import { API_SCOPES, createApiToken, createEnvironment, createProject, createUser, setMembers } from "@loraplane/services";
import { Api } from "./api.ts";
import { ProcessGroup, waitForHttp } from "./processes.ts";

const run = promisify(execFile);
export const ROOT = path.resolve(import.meta.dirname, "../../..");
const WEB_DIR = path.join(ROOT, "apps/web");
export const PYTHON = path.join(ROOT, "gpu-runtime/.venv/bin/python");
const BIN = path.join(ROOT, "node_modules/.bin");

export interface TStackOptions {
  /** Names the database, the data folder, the queue prefix and the users' e-mail domain. */
  name: string;
  slug: string;
  ports: { web: number; worker: number; gateway: number };
  environments: { name: string; tier: "dev" | "staging" | "prod"; requiresApproval?: boolean }[];
  dataset: { name: string; train: number; validation: number; test: number };
  workerConcurrency: number;
}

export interface TDatasetRow {
  instruction: string;
  input?: string;
  output: string;
}

export interface TStack {
  db: Db;
  dataDir: string;
  modelDir: string;
  projectId: string;
  users: { engineerId: string; approverId: string; ownerId: string };
  engineer: Api;
  approver: Api;
  /** A token with inference:invoke only, as a client service holds. */
  gatewayToken: string;
  web: string;
  gateway: string;
  testRows: TDatasetRow[];
  procs: ProcessGroup;
  stop(): Promise<void>;
}

export async function startStack(o: TStackOptions): Promise<TStack> {
  if (!existsSync(path.join(WEB_DIR, ".next/BUILD_ID"))) throw new Error("apps/web is not built: `npm run build -w @loraplane/web` (turbo builds it before this test)");
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: run \`bash gpu-runtime/scripts/setup-venv.sh\``);
  const web = `http://127.0.0.1:${o.ports.web}`;
  const gateway = `http://127.0.0.1:${o.ports.gateway}`;
  const procs = new ProcessGroup();
  const dataDir = realpathSync(mkdtempSync(path.join(os.tmpdir(), `lp-${o.name}-`)));
  const modelDir = path.join(dataDir, "models", "tiny");
  let database: TestDatabase | undefined;
  let db: Db | undefined;
  const stop = async () => {
    // The gateway first (no new requests), then the worker (it hands its jobs back), then the web app; last, every
    // training or serving process the worker started under this test's data folder.
    await procs.stopAll(["gateway", "worker", "web"], dataDir);
    await db?.$disconnect();
    await database?.drop().catch(() => undefined);
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    database = await createTestDatabase(o.name);
    db = createPrismaClient({ url: database.url, poolSize: 3 });
    const system = { type: "system" as const, userId: null };
    const person = (who: string, name: string, role: "engineer" | "approver" | "admin") =>
      createUser(db!, { email: `${who}@${o.name}.test`, name, role, generatePassword: false }, system).then((r) => r.user);
    const eng = await person("engineer", "Eve Engineer", "engineer");
    const appr = await person("approver", "Abe Approver", "approver");
    const owner = await person("owner", "Olu Owner", "admin");
    const project = await createProject(db, { slug: o.slug, name: o.name }, system);
    await setMembers(db, project.id, [{ userId: owner.id, role: "admin" }, { userId: eng.id, role: "engineer" }, { userId: appr.id, role: "approver" }], system);
    for (const e of o.environments) {
      await createEnvironment(db, project.id, { name: e.name, tier: e.tier, namespace: `${o.slug}-${e.name}`, requiresApproval: e.requiresApproval ?? false, servingBackend: "local" }, system);
    }
    const scopes = API_SCOPES.filter((s) => s !== "admin");
    const token = (name: string, userId: string, s: typeof scopes) => createApiToken(db!, { name, userId, scopes: s, projectId: project.id }, system).then((t) => t.secret);
    const engineer = new Api(web, await token("ci", eng.id, scopes));
    const approver = new Api(web, await token("release", appr.id, scopes));
    const gatewayToken = await token("client", eng.id, ["inference:invoke"]);

    // Datasets live under their project's storage prefix (<data dir>/projects/<projectId>/datasets/).
    const datasetDir = path.join(dataDir, "projects", project.id, "datasets", o.dataset.name, "v1");
    const { train, validation, test } = o.dataset;
    await Promise.all([
      run(PYTHON, ["-m", "loraplane_runtime.cli", "make-tiny-model", "--output", modelDir, "--layers", "2", "--hidden", "64", "--heads", "2"], { cwd: ROOT }),
      run(PYTHON, ["-m", "loraplane_runtime.cli", "make-demo-data", "--output", datasetDir, "--train", String(train), "--validation", String(validation), "--test", String(test)], { cwd: ROOT }),
    ]);
    const manifest = JSON.parse(readFileSync(path.join(datasetDir, "dataset.json"), "utf8")) as { sha256: string; format: string; splits: Record<string, { rows: number }> };
    const testRows = readFileSync(path.join(datasetDir, "test.jsonl"), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as TDatasetRow);

    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: "production",
      DATABASE_URL: database.url,
      DATABASE_POOL_SIZE: "5",
      REDIS_URL: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
      QUEUE_PREFIX: `lp-${o.name}-${randomBytes(4).toString("hex")}`,
      LORAPLANE_DATA_DIR: dataDir,
      LOG_LEVEL: "info",
      NEXT_TELEMETRY_DISABLED: "1",
      // Trainings share two cores: one torch thread each, or they thrash (measured: ~60x slower).
      OMP_NUM_THREADS: "1",
      GATEWAY_PUBLIC_URL: gateway,
    };
    const webProc = procs.start("web", path.join(BIN, "next"), ["start", "-p", String(o.ports.web), "-H", "127.0.0.1"], {
      cwd: WEB_DIR,
      env: { ...env, NEXTAUTH_URL: web, NEXTAUTH_SECRET: randomBytes(32).toString("hex"), LORAPLANE_SECRET_KEY: randomBytes(32).toString("hex") },
    });
    const worker = procs.start("worker", path.join(BIN, "tsx"), ["workers/src/main.ts"], {
      cwd: ROOT,
      // The serving processes the worker starts (with a minimal environment: the variable must be passed on explicitly)
      // expose /admin/faults only when told to; the tests inject latency through it.
      env: {
        ...env,
        LORAPLANE_PUBLIC_URL: web,
        GPU_RUNTIME_PYTHON: PYTHON,
        WORKER_HEALTH_PORT: String(o.ports.worker),
        WORKER_CONCURRENCY: String(o.workerConcurrency),
        RECONCILE_INTERVAL_MS: "5000",
        LORAPLANE_SERVE_FAULT_INJECTION: "1",
        LOCAL_WORKLOAD_PASS_ENV: "LORAPLANE_SERVE_FAULT_INJECTION",
      },
    });
    const gatewayProc = procs.start("gateway", path.join(BIN, "tsx"), ["apps/gateway/src/main.ts"], {
      cwd: ROOT,
      env: { ...env, GATEWAY_PORT: String(o.ports.gateway), GATEWAY_FLUSH_INTERVAL_MS: "1000" },
    });
    try {
      await Promise.all([
        waitForHttp(`${web}/api/health`, 90_000, webProc.alive),
        waitForHttp(`http://127.0.0.1:${o.ports.worker}/health`, 90_000, worker.alive),
        waitForHttp(`${gateway}/health`, 90_000, gatewayProc.alive),
      ]);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${procs.tail(60)}`);
    }

    // The engineer registers the dataset version over the REST API.
    const dataset = await engineer.post<{ id: string }>(`/api/v1/projects/${project.id}/datasets`, { name: o.dataset.name, description: "make-demo-data, seed 0" });
    await engineer.post(`/api/v1/datasets/${dataset.id}/versions`, {
      version: "v1",
      uri: pathToFileURL(datasetDir).href,
      sha256: manifest.sha256,
      rowCount: Object.values(manifest.splits).reduce((n, s) => n + s.rows, 0),
      format: manifest.format,
      splits: manifest.splits,
    });
    return {
      db,
      dataDir,
      modelDir,
      projectId: project.id,
      users: { engineerId: eng.id, approverId: appr.id, ownerId: owner.id },
      engineer,
      approver,
      gatewayToken,
      web,
      gateway,
      testRows,
      procs,
      stop,
    };
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
}

/**
 * A pipeline spec for the tiny model that trains in seconds on CPU: 12 LoRA steps, a 6-sample evaluation with no
 * thresholds, and the caller's deploy block.
 */
export function tinyPipelineSpec(o: { name: string; modelDir: string; modelName: string; datasetName: string; deploy: Record<string, unknown> }) {
  return {
    apiVersion: "loraplane/v1",
    name: o.name,
    model: { name: o.modelName, baseModel: o.modelDir },
    dataset: { name: o.datasetName, version: "v1", format: "alpaca" },
    training: { learningRate: 1e-3, batchSize: 16, maxSteps: 12, maxSeqLength: 64, logEverySteps: 4, checkpointEverySteps: 100, precision: "fp32", lora: { r: 8, alpha: 16, dropout: 0.05 } },
    resources: { gpus: 0 },
    eval: { split: "test", maxSamples: 6, maxNewTokens: 6, batchSize: 6, metrics: ["exact_match"], thresholds: [] },
    deploy: o.deploy,
    timeouts: { trainSeconds: 600, evalSeconds: 300 },
  };
}
