// Gateway overhead: latency added over calling the upstream directly, and maximum throughput, with nginx (Debian
// package, one worker, keep-alive upstream) proxying the same upstream as the reference for what a proxy can do here.
// Usage: npx tsx bench/gateway-overhead.ts [latencyRequests=4000] [throughputSeconds=5] [concurrency=64]
// Every process (upstream, gateway, nginx, load generator) is separate, as in production.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { Pool } from "undici";
import { percentile } from "./stats.ts";

const SELF = fileURLToPath(import.meta.url);
const [UPSTREAM_PORT, GATEWAY_PORT, NGINX_PORT, MINIMAL_PORT, PIPE_PORT] = [19101, 19102, 19103, 19104, 19105];
const BODY = JSON.stringify({ model: "bench", messages: [{ role: "user", content: "Say hello in three words." }], max_tokens: 8 });
const REPLY = JSON.stringify({ id: "chatcmpl-bench", object: "chat.completion", created: 0, model: "bench-v1", choices: [{ index: 0, message: { role: "assistant", content: "hello there friend" }, finish_reason: "stop" }], usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 } });

async function upstream() {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(REPLY) });
      res.end(REPLY);
    });
  });
  server.keepAliveTimeout = 120_000;
  server.listen(UPSTREAM_PORT, "127.0.0.1", () => process.send?.("ready"));
}

/**
 * The least a Node proxy can do with the same stack as the gateway (node:http server, undici Pool.dispatch with a raw
 * handler, body parsed and `model` rewritten): no auth, routing, metrics, timeouts or cancellation. Separates what the
 * gateway's features cost from what the runtime costs.
 */
async function minimal() {
  const pool = new Pool(`http://127.0.0.1:${UPSTREAM_PORT}`, { connections: 128 });
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>;
      const out: Buffer[] = [];
      let status = 0;
      pool.dispatch(
        { path: req.url!, method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ...body, model: "bench-v1" }) },
        {
          // Present so undici treats this as a new-style handler (onResponse*), not the legacy one.
          onRequestStart: () => {},
          onResponseStart: (_c, statusCode) => void (status = statusCode),
          onResponseData: (_c, chunk) => void out.push(chunk),
          onResponseEnd: () => {
            const buf = Buffer.concat(out);
            res.writeHead(status, { "content-type": "application/json", "content-length": buf.length });
            res.end(buf);
          },
          onResponseError: () => void res.destroy(),
        },
      );
    });
  });
  server.keepAliveTimeout = 120_000;
  server.listen(MINIMAL_PORT, "127.0.0.1", () => process.send?.("ready"));
}

/**
 * Node's floor for a proxy: every client connection piped to its own upstream connection, bytes moved without any HTTP
 * parsing (what a layer-4 proxy does). Nothing written in JavaScript can proxy HTTP faster in one process.
 */
async function pipe() {
  const server = net.createServer((client) => {
    const up = net.connect(UPSTREAM_PORT, "127.0.0.1");
    client.setNoDelay(true);
    up.setNoDelay(true);
    client.pipe(up).pipe(client);
    const close = () => {
      client.destroy();
      up.destroy();
    };
    client.on("error", close).on("close", close);
    up.on("error", close).on("close", close);
  });
  server.listen(PIPE_PORT, "127.0.0.1", () => process.send?.("ready"));
}

async function gateway(databaseUrl: string) {
  const { createPrismaClient } = await import("../packages/db/src/index.ts");
  const { createGateway } = await import("../apps/gateway/src/server.ts");
  const { createLogger } = await import("../apps/gateway/src/log.ts");
  const db = createPrismaClient({ url: databaseUrl, poolSize: 4 });
  const gw = createGateway({ db, databaseUrl, log: createLogger("warn"), gatewayId: "bench", requireAuth: true, maxBodyBytes: 1 << 20, upstreamTimeoutMs: 30_000, flushIntervalMs: 5_000 });
  await gw.listen(GATEWAY_PORT, "127.0.0.1");
  // A normal exit, so a --cpu-prof profile gets written.
  process.on("SIGTERM", () => process.exit(0));
  process.send?.("ready");
}

/** Load generator: sequential requests for latency, or `concurrency` loops for `seconds` for throughput. */
async function load(target: string, mode: string, n: number, token: string) {
  const concurrency = mode === "latency" ? 1 : n;
  const pool = new Pool(target, { connections: concurrency, pipelining: 1 });
  const headers = { "content-type": "application/json", authorization: `Bearer ${token}` };
  const call = async () => {
    const r = await pool.request({ path: "/v1/chat/completions", method: "POST", headers, body: BODY });
    await r.body.text();
    if (r.statusCode !== 200) throw new Error(`HTTP ${r.statusCode}`);
  };
  for (let i = 0; i < 200; i++) await call(); // warm-up: connections, JIT
  if (mode === "latency") {
    const samples: number[] = [];
    for (let i = 0; i < Number(process.argv[7]); i++) {
      const t0 = performance.now();
      await call();
      samples.push(performance.now() - t0);
    }
    process.send?.(samples);
  } else {
    const seconds = Number(process.argv[7]);
    let done = 0;
    let failed = 0;
    const end = performance.now() + seconds * 1000;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < end) {
          try {
            await call();
            done++;
          } catch {
            failed++;
          }
        }
      }),
    );
    process.send?.({ rps: done / seconds, failed });
  }
  await pool.close();
}

function child(args: string[]): Promise<{ proc: ChildProcess; message: Promise<unknown> }> {
  // GATEWAY_PROFILE_DIR=/tmp/x writes a V8 CPU profile of the gateway process there.
  const profile = args[0] === "gateway" && process.env.GATEWAY_PROFILE_DIR ? ["--cpu-prof", `--cpu-prof-dir=${process.env.GATEWAY_PROFILE_DIR}`] : [];
  const proc = spawn(process.execPath, [...profile, "--import", "tsx", SELF, ...args], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  return new Promise((resolve) => {
    let first = true;
    let resolveMsg: (v: unknown) => void;
    const message = new Promise((r) => (resolveMsg = r));
    proc.on("message", (m) => {
      if (first && m === "ready") {
        first = false;
        resolve({ proc, message });
      } else resolveMsg(m);
    });
    if (args[0] === "load") {
      first = false;
      resolve({ proc, message });
    }
  });
}

async function main() {
  const latencyN = Number(process.argv[2] ?? 4000);
  const seconds = Number(process.argv[3] ?? 5);
  const concurrency = Number(process.argv[4] ?? 64);
  const { createBenchDatabase } = await import("./bench-db.ts");
  const { createPrismaClient } = await import("../packages/db/src/index.ts");
  const { seedSingleVariantEndpoint } = await import("./gateway-seed.ts");
  const benchDb = await createBenchDatabase("gateway");
  const db = createPrismaClient({ url: benchDb.url, poolSize: 2 });
  const procs: ChildProcess[] = [];
  try {
    const seed = await seedSingleVariantEndpoint(db, "bench", `http://127.0.0.1:${UPSTREAM_PORT}`);
    procs.push((await child(["upstream"])).proc);
    procs.push((await child(["gateway", benchDb.url])).proc);
    procs.push((await child(["minimal"])).proc);

    const dir = mkdtempSync(path.join(os.tmpdir(), "lp-nginx-"));
    writeFileSync(path.join(dir, "nginx.conf"), `worker_processes 1; daemon off; pid ${dir}/nginx.pid; error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http { access_log off; client_body_temp_path ${dir}; proxy_temp_path ${dir};
  upstream up { server 127.0.0.1:${UPSTREAM_PORT}; keepalive 256; }
  server { listen 127.0.0.1:${NGINX_PORT}; location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_buffering off; } } }
`);
    const hasNginx = spawnSync("nginx", ["-v"]).status === 0;
    if (hasNginx) {
      const nginx = spawn("nginx", ["-c", path.join(dir, "nginx.conf")], { stdio: "inherit" });
      procs.push(nginx);
      await new Promise((r) => setTimeout(r, 500));
    } else console.warn("nginx not installed (apt-get install -y nginx): reference column skipped");

    const targets: [string, string][] = [["direct", `http://127.0.0.1:${UPSTREAM_PORT}`], ["gateway", `http://127.0.0.1:${GATEWAY_PORT}`], ["node-minimal", `http://127.0.0.1:${MINIMAL_PORT}`], ...(hasNginx ? [["nginx", `http://127.0.0.1:${NGINX_PORT}`] as [string, string]] : [])];
    const latency: Record<string, number[]> = Object.fromEntries(targets.map(([k]) => [k, []]));
    // Interleaved rounds, so drift in machine load hits every target alike.
    const rounds = 8;
    for (let r = 0; r < rounds; r++) {
      for (const [name, url] of targets) {
        const { message } = await child(["load", url, "latency", "1", seed.token, String(Math.ceil(latencyN / rounds))]);
        latency[name]!.push(...((await message) as number[]));
      }
    }
    // Throughput in two interleaved halves as well; req/s is the mean of the halves.
    const throughput: Record<string, { rps: number; failed: number }> = Object.fromEntries(targets.map(([k]) => [k, { rps: 0, failed: 0 }]));
    for (let r = 0; r < 2; r++) {
      for (const [name, url] of targets) {
        const { message } = await child(["load", url, "throughput", String(concurrency), seed.token, String(seconds / 2)]);
        const half = (await message) as { rps: number; failed: number };
        throughput[name]!.rps += half.rps / 2;
        throughput[name]!.failed += half.failed;
      }
    }
    const row = (name: string) => ({ p50: percentile(latency[name]!, 0.5), p99: percentile(latency[name]!, 0.99) });
    const direct = row("direct");
    console.log(`\nloadavg ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}, ${os.cpus().length} cores, node ${process.version}`);
    console.log("| target | p50 ms | p99 ms | added p50 ms | added p99 ms | throughput req/s (c=" + concurrency + ") | failed |");
    console.log("|---|---|---|---|---|---|---|");
    for (const [name] of targets) {
      const r = row(name);
      console.log(`| ${name} | ${r.p50.toFixed(3)} | ${r.p99.toFixed(3)} | ${name === "direct" ? "—" : (r.p50 - direct.p50).toFixed(3)} | ${name === "direct" ? "—" : (r.p99 - direct.p99).toFixed(3)} | ${throughput[name]!.rps.toFixed(0)} | ${throughput[name]!.failed} |`);
    }
    if (hasNginx) console.log(`\ngateway throughput = ${((throughput.gateway!.rps / throughput.nginx!.rps) * 100).toFixed(0)}% of nginx`);
  } finally {
    for (const p of procs) p.kill("SIGTERM");
    await db.$disconnect();
    await new Promise((r) => setTimeout(r, 300));
    await benchDb.drop();
  }
}

const mode = process.argv[2];
if (mode === "upstream") void upstream();
else if (mode === "minimal") void minimal();
else if (mode === "pipe") void pipe();
else if (mode === "gateway") void gateway(process.argv[3]!);
else if (mode === "load") void load(process.argv[3]!, process.argv[4]!, Number(process.argv[5]), process.argv[6]!).then(() => process.exit(0));
else void main().then(() => process.exit(0), (e: unknown) => {
  console.error(e);
  process.exit(1);
});
