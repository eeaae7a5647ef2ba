// Local serving: one detached gpu-runtime `serve` process per (environment, base model). Its pid is recorded in the
// ServingInstance row, so a restarted worker re-attaches to a live process instead of starting a second one.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, open } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { isDeniedWorkloadEnv } from "@loraplane/config";
import { measureDirectoryDigest } from "../engine/adapter-digest.ts";
import { postLora, waitHealthy, type TInstanceRef, type TServingBackend, type TServingTarget } from "./types.ts";

export interface TLocalServingOptions {
  python: string;
  dataDir: string;
  host?: string;
  healthTimeoutMs?: number;
  /** Extra serve flags (tests inject latency with --inject-latency-ms). */
  extraArgs?: string[];
  /**
   * SERVING_API_KEY: `serve` then requires it (LORAPLANE_SERVE_API_KEY) on every /v1 call and the workers send it on
   * adapter load/unload. Unset: serve runs without a key (development only).
   */
  apiKey?: string | undefined;
  /**
   * The environment `serve` starts from (workloadEnvironment() from @loraplane/config): it never inherits the worker's
   * NEXTAUTH_SECRET, LORAPLANE_SECRET_KEY, DATABASE_URL or REDIS_URL. Default: PATH and HOME only.
   */
  baseEnv?: () => Record<string, string>;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function pidOf(ref: TInstanceRef): number | null {
  const m = /^pid:(\d+)$/.exec(ref.externalId);
  return m ? Number(m[1]) : null;
}

async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, host, () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Accepts "file:///abs/dir", "/abs/dir" or a path relative to the working directory. */
export function localPath(uri: string): string {
  return uri.startsWith("file:") ? fileURLToPath(uri) : path.resolve(uri);
}

export function createLocalServingBackend(options: TLocalServingOptions): TServingBackend {
  const host = options.host ?? "127.0.0.1";
  return {
    kind: "local",
    async ensure(target: TServingTarget, existing, signal) {
      if (existing) {
        const pid = pidOf(existing);
        if (pid && pidAlive(pid)) {
          try {
            await waitHealthy(existing.url, 5_000, signal, () => pidAlive(pid));
            return existing;
          } catch {
            // Alive but unhealthy: replaced below rather than left half-working.
            process.kill(-pid, "SIGTERM");
          }
        }
      }
      const port = await freePort(host);
      const key = createHash("sha256").update(`${target.environmentId}\u0000${target.baseModel}`).digest("hex").slice(0, 12);
      const dir = path.resolve(options.dataDir, "serving", key);
      await mkdir(dir, { recursive: true });
      const logFile = await open(path.join(dir, "serve.log"), "a");
      const args = ["-u", "-m", "loraplane_runtime.cli", "serve", "--model", localPath(target.baseModel), "--host", host, "--port", String(port), ...(options.extraArgs ?? [])];
      const base = options.baseEnv ? options.baseEnv() : { PATH: "/usr/local/bin:/usr/bin:/bin", HOME: dir };
      const env = Object.fromEntries(Object.entries(base).filter(([k]) => !isDeniedWorkloadEnv(k)));
      if (options.apiKey) env.LORAPLANE_SERVE_API_KEY = options.apiKey;
      const child = spawn(path.resolve(options.python), args, { cwd: dir, detached: true, stdio: ["ignore", logFile.fd, logFile.fd], env });
      await new Promise<void>((resolve, reject) => {
        child.once("spawn", resolve);
        child.once("error", reject);
      });
      await logFile.close();
      child.unref();
      const pid = child.pid!;
      let exited = false;
      child.once("exit", () => {
        exited = true;
      });
      const ref = { url: `http://${host}:${port}`, externalId: `pid:${pid}` };
      try {
        await waitHealthy(ref.url, options.healthTimeoutMs ?? 180_000, signal, () => !exited && pidAlive(pid));
      } catch (error) {
        if (pidAlive(pid)) process.kill(-pid, "SIGTERM");
        throw new Error(`${(error as Error).message}; see ${path.join(dir, "serve.log")}`);
      }
      return ref;
    },
    async loadAdapter(instance, name, adapterUri, sha256) {
      const dir = localPath(adapterUri);
      // The registered digest covers every file (manifest.json lists them): nothing else may be loaded under this name.
      if (sha256) {
        const measured = await measureDirectoryDigest(dir);
        if (!measured.ok) throw new Error(`adapter ${name}: ${measured.reason}`);
        if (measured.sha256 !== sha256) throw new Error(`adapter ${name}: digest mismatch (registered ${sha256}, found ${measured.sha256})`);
      }
      await postLora(instance.url, "load", { lora_name: name, lora_path: dir }, options.apiKey);
    },
    unloadAdapter: (instance, name) => postLora(instance.url, "unload", { lora_name: name }, options.apiKey),
    async stop(instance) {
      const pid = pidOf(instance);
      if (!pid || !pidAlive(pid)) return;
      process.kill(-pid, "SIGTERM");
      const deadline = Date.now() + 10_000;
      while (pidAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      if (pidAlive(pid)) process.kill(-pid, "SIGKILL");
    },
  };
}
