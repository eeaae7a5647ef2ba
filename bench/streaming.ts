// Streaming through the gateway: an SSE upstream (apps/gateway/test/sse-upstream.mjs) sends `chunks` chunks at a fixed
// interval after a fixed TTFT, like vLLM streaming tokens; 1, 100 and 1,000 concurrent streams go direct, through nginx
// (Debian package, one worker, proxy_buffering off) and through the gateway. Reported per target and concurrency:
// time to first chunk and gap between chunks (p50/p99, and what each adds over direct), each chunk's lag behind the
// time the upstream stamped into it (p50/p99: the latency a proxy adds per token), chunks/s, and the proxy's CPU and
// resident memory per open stream (from /proc, sampled every 50 ms).
// Usage: npx tsx bench/streaming.ts [concurrencies=1,100,1000] [chunks=50] [intervalMs=20] [ttftMs=50] [rounds=2]
// Every process (upstream, gateway, nginx, stream client) is separate; the client is apps/gateway/test/stream-client.mjs.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { percentile, procStat, runBenchmark } from "./stats.ts";

const SELF = fileURLToPath(import.meta.url);
const GW_TEST = path.join(path.dirname(SELF), "../apps/gateway/test");
const [UPSTREAM_PORT, GATEWAY_PORT, NGINX_PORT] = [19201, 19202, 19203];

interface TStream {
  status: number;
  hdr: number;
  startedAt: number;
  first: number;
  firstAt: number;
  endedAt: number;
  chunks: number;
  done: boolean;
  gaps: number[];
  lags: number[];
}

async function gatewayProcess(databaseUrl: string) {
  const { createPrismaClient } = await import("../packages/db/src/index.ts");
  const { createGateway } = await import("../apps/gateway/src/server.ts");
  const { createLogger } = await import("../apps/gateway/src/log.ts");
  const db = createPrismaClient({ url: databaseUrl, poolSize: 4 });
  const gw = createGateway({ db, databaseUrl, log: createLogger("warn"), gatewayId: "bench-stream", requireAuth: true, maxBodyBytes: 1 << 20, upstreamTimeoutMs: 300_000, flushIntervalMs: 5_000 });
  await gw.listen(GATEWAY_PORT, "127.0.0.1");
  process.on("SIGTERM", () => process.exit(0));
  process.send?.("ready");
}

function startUpstream(ttft: number, chunks: number, interval: number): Promise<ChildProcess> {
  const p = spawn(process.execPath, [path.join(GW_TEST, "sse-upstream.mjs"), String(UPSTREAM_PORT), String(ttft), String(chunks), String(interval)], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve) => p.stdout!.once("data", () => resolve(p)));
}

function startGateway(databaseUrl: string): Promise<ChildProcess> {
  // GATEWAY_PROFILE_DIR=/tmp/x writes a V8 CPU profile of the gateway process there.
  const profile = process.env.GATEWAY_PROFILE_DIR ? ["--cpu-prof", `--cpu-prof-dir=${process.env.GATEWAY_PROFILE_DIR}`] : [];
  const p = spawn(process.execPath, [...profile, "--import", "tsx", SELF, "gateway", databaseUrl], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  return new Promise((resolve) => p.once("message", () => resolve(p)));
}

/** Runs `n` concurrent streams from a separate client process while sampling the proxy's CPU and memory. */
async function run(url: string, token: string, n: number, proxyPid: number | null) {
  const before = proxyPid ? procStat(proxyPid) : null;
  let peakRss = before?.rss ?? 0;
  const sampler = proxyPid ? setInterval(() => (peakRss = Math.max(peakRss, procStat(proxyPid).rss)), 50) : null;
  const client = spawn(process.execPath, [path.join(GW_TEST, "stream-client.mjs"), url, token, String(n), "stream", "1", "1"], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  client.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  await new Promise((r) => client.once("exit", r));
  if (sampler) clearInterval(sampler);
  const after = proxyPid ? procStat(proxyPid) : null;
  const streams = (JSON.parse(out) as { streams: TStream[] }).streams;
  // From the first request to the last end of this set of streams (the client's warm-up stream excluded).
  const wallS = (Math.max(...streams.map((s) => s.endedAt)) - Math.min(...streams.map((s) => s.startedAt))) / 1000;
  return {
    streams,
    wallS,
    cpuS: before && after ? after.cpuS - before.cpuS : null,
    rssIdle: before?.rss ?? null,
    rssPeak: proxyPid ? peakRss : null,
  };
}

async function main() {
  const concurrencies = (process.argv[2] ?? "1,100,1000").split(",").map(Number);
  const chunks = Number(process.argv[3] ?? 50);
  const interval = Number(process.argv[4] ?? 20);
  const ttft = Number(process.argv[5] ?? 50);
  const rounds = Number(process.argv[6] ?? 2);
  const { createBenchDatabase } = await import("./bench-db.ts");
  const { createPrismaClient } = await import("../packages/db/src/index.ts");
  const { seedSingleVariantEndpoint } = await import("./gateway-seed.ts");
  const benchDb = await createBenchDatabase("streaming");
  const db = createPrismaClient({ url: benchDb.url, poolSize: 2 });
  const procs: ChildProcess[] = [];
  try {
    const seed = await seedSingleVariantEndpoint(db, "stream", `http://127.0.0.1:${UPSTREAM_PORT}`);
    procs.push(await startUpstream(ttft, chunks, interval));
    const gateway = await startGateway(benchDb.url);
    procs.push(gateway);

    const dir = mkdtempSync(path.join(os.tmpdir(), "lp-nginx-stream-"));
    writeFileSync(path.join(dir, "nginx.conf"), `worker_processes 1; daemon off; pid ${dir}/nginx.pid; error_log ${dir}/error.log warn;
worker_rlimit_nofile 16384;
events { worker_connections 8192; }
http { access_log off; client_body_temp_path ${dir}; proxy_temp_path ${dir};
  upstream up { server 127.0.0.1:${UPSTREAM_PORT}; keepalive 1024; }
  server { listen 127.0.0.1:${NGINX_PORT} backlog=4096; location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_buffering off; proxy_read_timeout 300s; } } }
`);
    const nginxBin = ["/usr/sbin/nginx", "nginx"].find((b) => spawnSync(b, ["-v"]).status === 0);
    let nginxWorker: number | null = null;
    if (nginxBin) {
      const nginx = spawn(nginxBin, ["-c", path.join(dir, "nginx.conf")], { stdio: "inherit" });
      procs.push(nginx);
      await new Promise((r) => setTimeout(r, 500));
      // The worker does the proxying; the master only supervises.
      const children = spawnSync("pgrep", ["-P", String(nginx.pid)]).stdout.toString().trim().split("\n").filter(Boolean);
      nginxWorker = children.length ? Number(children[0]) : null;
    } else console.warn("nginx not installed (apt-get install -y nginx): reference column skipped");

    const targets: { name: string; url: string; pid: number | null }[] = [
      { name: "direct", url: `http://127.0.0.1:${UPSTREAM_PORT}/v1/chat/completions`, pid: null },
      ...(nginxBin ? [{ name: "nginx", url: `http://127.0.0.1:${NGINX_PORT}/v1/chat/completions`, pid: nginxWorker }] : []),
      { name: "gateway", url: `http://127.0.0.1:${GATEWAY_PORT}/v1/chat/completions`, pid: gateway.pid! },
    ];
    // Warm-up: connections, JIT, the gateway's token cache.
    for (const t of targets) await run(t.url, seed.token, 20, null);

    console.log(`\nupstream: TTFT ${ttft} ms, ${chunks} chunks every ${interval} ms; ${os.cpus().length} cores, node ${process.version}`);
    console.log("| streams | target | TTFT p50 / p99 ms | added TTFT p50 / p99 | gap p50 / p99 ms | added gap p50 / p99 | chunk lag p50 / p99 ms | added lag p50 / p99 | chunks/s | failed | proxy CPU s/stream | proxy RSS KiB/stream |");
    console.log("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (const n of concurrencies) {
      const acc: Record<string, { first: number[]; gaps: number[]; lags: number[]; chunks: number; wallS: number; failed: number; cpuS: number; rssPerStream: number[] }> = {};
      // Interleaved rounds so drift in machine load hits every target alike.
      for (let r = 0; r < rounds; r++) {
        for (const t of targets) {
          const res = await run(t.url, seed.token, n, t.pid);
          const a = (acc[t.name] ??= { first: [], gaps: [], lags: [], chunks: 0, wallS: 0, failed: 0, cpuS: 0, rssPerStream: [] });
          for (const s of res.streams) {
            if (s.status !== 200 || !s.done || s.chunks !== chunks) a.failed++;
            a.first.push(s.first);
            a.gaps.push(...s.gaps);
            a.lags.push(...s.lags);
            a.chunks += s.chunks;
          }
          a.wallS += res.wallS;
          a.cpuS += res.cpuS ?? 0;
          if (res.rssPeak !== null && res.rssIdle !== null) a.rssPerStream.push((res.rssPeak - res.rssIdle) / n);
        }
      }
      const d = acc.direct!;
      const q = (xs: number[], p: number) => (xs.length ? percentile(xs, p) : NaN);
      for (const t of targets) {
        const a = acc[t.name]!;
        const f = (x: number) => x.toFixed(2);
        const added = (xs: number[], base: number[]) => (t.name === "direct" ? "—" : `${f(q(xs, 0.5) - q(base, 0.5))} / ${f(q(xs, 0.99) - q(base, 0.99))}`);
        const cpu = t.pid ? (a.cpuS / (n * rounds)).toFixed(4) : "—";
        const rss = t.pid && a.rssPerStream.length ? (Math.max(...a.rssPerStream) / 1024).toFixed(1) : "—";
        console.log(`| ${n} | ${t.name} | ${f(q(a.first, 0.5))} / ${f(q(a.first, 0.99))} | ${added(a.first, d.first)} | ${f(q(a.gaps, 0.5))} / ${f(q(a.gaps, 0.99))} | ${added(a.gaps, d.gaps)} | ${f(q(a.lags, 0.5))} / ${f(q(a.lags, 0.99))} | ${added(a.lags, d.lags)} | ${(a.chunks / a.wallS).toFixed(0)} | ${a.failed} | ${cpu} | ${rss} |`);
      }
    }
    console.log(`\nloadavg ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}`);
  } finally {
    for (const p of procs) p.kill("SIGTERM");
    await db.$disconnect();
    await new Promise((r) => setTimeout(r, 300));
    await benchDb.drop();
  }
}

if (process.argv[2] === "gateway") void gatewayProcess(process.argv[3]!);
else runBenchmark(main);
