// What the CLI tests share: the real API routes served over HTTP from the test process (request bodies streamed
// through to the handler, as a server does), the CLI run as a user runs it (a child process), and — for runs that
// must progress — the real worker process (workers/src/main.ts on the local executor) whose workloads are the fake
// runtime (workers/test/helpers/fake-workload.mjs: the runtime's stdout protocol in milliseconds).
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { API_ROUTES } from "../../src/server/routes/index.ts";

const REPO_ROOT = path.resolve(import.meta.dirname, "../../../..");
/** The monorepo entry (TypeScript through tsx). */
export const CLI_BIN = path.resolve(import.meta.dirname, "../../bin/loraplane.mjs");

// Literal paths before templated ones (`/model-versions/compare` before `/model-versions/{id}`).
const ROUTES = [...API_ROUTES]
  .sort((a, b) => (a.def.path.match(/\{/g)?.length ?? 0) - (b.def.path.match(/\{/g)?.length ?? 0))
  .map((r) => ({ route: r, regex: new RegExp(`^${r.def.path.replace(/\{\w+\}/g, "[^/]+")}/?$`) }));

export interface TApiServer {
  url: string;
  close(): Promise<void>;
}

export async function serveApi(): Promise<TApiServer> {
  let url = "";
  const server = createServer((req, res) => {
    void (async () => {
      const pathname = new URL(req.url!, url).pathname;
      const found = ROUTES.find((r) => r.route.def.method === req.method!.toLowerCase() && r.regex.test(pathname));
      if (!found) {
        res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: { code: "not_found", message: `no route ${req.method} ${pathname}` } }));
        return;
      }
      const headers = new Headers();
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers.set(k, v);
      const body = req.method === "GET" || req.method === "HEAD" ? undefined : (Readable.toWeb(req) as ReadableStream<Uint8Array>);
      const response = await found.route.handler(new Request(new URL(req.url!, url), { method: req.method, headers, body, duplex: "half" } as RequestInit));
      res.writeHead(response.status, Object.fromEntries(response.headers));
      res.end(Buffer.from(await response.arrayBuffer()));
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

export interface TCliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `node <bin> …args` with only PATH, the given defaults and `env`; exit code, stdout and stderr come back. */
export function cliRunner(defaults: () => Record<string, string>, bin = CLI_BIN) {
  return (args: string[], env: Record<string, string> = {}, options: { cwd?: string; timeoutMs?: number } = {}): Promise<TCliResult> =>
    new Promise((resolve) => {
      execFile(
        process.execPath,
        [bin, ...args],
        { cwd: options.cwd, env: { NODE_ENV: "test", PATH: process.env.PATH, ...defaults(), ...env }, timeout: options.timeoutMs ?? 60_000 },
        (error, stdout, stderr) => resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export interface TWorkerProcess {
  logs(): string;
  stop(): Promise<void>;
}

/**
 * The worker process as `npm start` runs it, on the queue prefix and data folder the in-process API uses. Its
 * "python" is a shim that runs the fake runtime, so a stage takes milliseconds while the engine, the queue, the gate
 * and the registry are the real ones.
 */
export async function startWorkerProcess(o: { databaseUrl: string; queuePrefix: string; dataDir: string; publicUrl: string; fakeEnv?: Record<string, string> }): Promise<TWorkerProcess> {
  const shimDir = mkdtempSync(path.join(os.tmpdir(), "lp-fake-python-"));
  const shim = path.join(shimDir, "python");
  // The local executor runs `<python> -m loraplane_runtime.cli <command> --config job.json`.
  writeFileSync(shim, `#!/bin/sh\nexec "${process.execPath}" "${path.join(REPO_ROOT, "workers/test/helpers/fake-workload.mjs")}" "$3" --config "$5"\n`);
  chmodSync(shim, 0o755);
  const lines: string[] = [];
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", "workers/src/main.ts"], {
    cwd: REPO_ROOT,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: "test",
      LOG_LEVEL: "warn",
      DATABASE_URL: o.databaseUrl,
      REDIS_URL: "redis://127.0.0.1:6379",
      QUEUE_PREFIX: o.queuePrefix,
      LORAPLANE_DATA_DIR: o.dataDir,
      LORAPLANE_PUBLIC_URL: o.publicUrl,
      GPU_RUNTIME_PYTHON: shim,
      WORKER_HEALTH_PORT: String(await freePort()),
      WORKER_CONCURRENCY: "2",
      RECONCILE_INTERVAL_MS: "1000",
      LOCAL_WORKLOAD_PASS_ENV: Object.keys(o.fakeEnv ?? {}).join(","),
      ...o.fakeEnv,
    },
  });
  for (const stream of [child.stdout!, child.stderr!]) stream.on("data", (c: Buffer) => lines.push(...c.toString().split("\n").filter(Boolean)));
  return {
    logs: () => lines.slice(-60).join("\n"),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
        // The process group: the worker and any workload it started.
        process.kill(-child.pid!, "SIGTERM");
        const timer = setTimeout(() => process.kill(-child.pid!, "SIGKILL"), 15_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(shimDir, { recursive: true, force: true });
    },
  };
}
