// Gateway overhead measured with wrk (a C load generator, so the client is not the bottleneck): direct, gateway,
// node-minimal, node-pipe (raw sockets piped, no HTTP parsing: Node's floor) and nginx (one worker), the processes of
// bench/gateway-overhead.ts. Latency: wrk -c1 (sequential
// requests), its p50/p99; throughput: wrk -c<concurrency>. Interleaved rounds so drift in machine load hits every
// target alike; the figures are medians over rounds.
// Usage: npx tsx bench/gateway-wrk.ts [seconds=5] [concurrency=64] [rounds=3] [threads=1]
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { runBenchmark, treeCpuSeconds, treeRssBytes } from "./stats.ts";

const OVERHEAD = path.join(path.dirname(fileURLToPath(import.meta.url)), "gateway-overhead.ts");
// The ports bench/gateway-overhead.ts's processes listen on.
const [UPSTREAM_PORT, GATEWAY_PORT, NGINX_PORT, MINIMAL_PORT, PIPE_PORT] = [19101, 19102, 19103, 19104, 19105];
const BODY = JSON.stringify({ model: "bench", messages: [{ role: "user", content: "Say hello in three words." }], max_tokens: 8 });

function child(args: string[]): Promise<ChildProcess> {
  // GATEWAY_PROFILE_DIR=/tmp/x writes a V8 CPU profile of the gateway process there.
  const profile = args[0] === "gateway" && process.env.GATEWAY_PROFILE_DIR ? ["--cpu-prof", `--cpu-prof-dir=${process.env.GATEWAY_PROFILE_DIR}`] : [];
  const p = spawn(process.execPath, [...profile, "--import", "tsx", OVERHEAD, ...args], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  return new Promise((resolve) => p.once("message", () => resolve(p)));
}

const UNIT: Record<string, number> = { us: 0.001, ms: 1, s: 1000 };
function ms(text: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text.trim());
  if (!m) throw new Error(`wrk latency "${text}"`);
  return Number(m[1]) * UNIT[m[2]!]!;
}

/** One wrk run: requests/s, p50/p99 latency (ms) and non-2xx/socket errors. */
function wrk(url: string, connections: number, seconds: number, threads: number, script: string) {
  const r = spawnSync("wrk", [`-t${Math.min(threads, connections)}`, `-c${connections}`, `-d${seconds}s`, "--latency", "-s", script, url], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`wrk failed: ${r.stderr}`);
  const out = r.stdout;
  const pct = (p: string) => ms(new RegExp(`^\\s+${p}%\\s+(\\S+)`, "m").exec(out)![1]!);
  const errors = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0) + (/Socket errors: (.*)/.exec(out)?.[1]?.match(/\d+/g)?.map(Number).reduce((a, b) => a + b, 0) ?? 0);
  return { rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)![1]), p50: pct("50"), p99: pct("99"), errors };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main() {
  const seconds = Number(process.argv[2] ?? 5);
  const concurrency = Number(process.argv[3] ?? 64);
  const rounds = Number(process.argv[4] ?? 3);
  const threads = Number(process.argv[5] ?? 1);
  const { createBenchDatabase } = await import("./bench-db.ts");
  const { createPrismaClient } = await import("../packages/db/src/index.ts");
  const { seedSingleVariantEndpoint } = await import("./gateway-seed.ts");
  const benchDb = await createBenchDatabase("gatewaywrk");
  const db = createPrismaClient({ url: benchDb.url, poolSize: 2 });
  const procs: ChildProcess[] = [];
  try {
    const seed = await seedSingleVariantEndpoint(db, "bench", `http://127.0.0.1:${UPSTREAM_PORT}`);
    // The process serving each target, for its CPU time per request under the throughput run.
    const pidOf: Record<string, number> = {};
    for (const [name, args] of [["direct", ["upstream"]], ["gateway", ["gateway", benchDb.url]], ["node-minimal", ["minimal"]], ["node-pipe", ["pipe"]]] as const) {
      const p = await child([...args]);
      procs.push(p);
      pidOf[name] = p.pid!;
    }
    const dir = mkdtempSync(path.join(os.tmpdir(), "lp-wrk-"));
    writeFileSync(path.join(dir, "nginx.conf"), `worker_processes 1; daemon off; pid ${dir}/nginx.pid; error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http { access_log off; client_body_temp_path ${dir}; proxy_temp_path ${dir};
  upstream up { server 127.0.0.1:${UPSTREAM_PORT}; keepalive 256; }
  server { listen 127.0.0.1:${NGINX_PORT}; location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_buffering off; } } }
`);
    const nginxBin = ["/usr/sbin/nginx", "nginx"].find((b) => spawnSync(b, ["-v"]).status === 0);
    if (nginxBin) {
      const nginx = spawn(nginxBin, ["-c", path.join(dir, "nginx.conf")], { stdio: "inherit" });
      procs.push(nginx);
      pidOf.nginx = nginx.pid!;
      await new Promise((r) => setTimeout(r, 500));
    }
    const script = path.join(dir, "post.lua");
    writeFileSync(script, `wrk.method = "POST"\nwrk.body = ${JSON.stringify(BODY)}\nwrk.headers["Content-Type"] = "application/json"\nwrk.headers["Authorization"] = "Bearer ${seed.token}"\n`);
    const targets: [string, number][] = [["direct", UPSTREAM_PORT], ["gateway", GATEWAY_PORT], ["node-minimal", MINIMAL_PORT], ["node-pipe", PIPE_PORT], ...(nginxBin ? [["nginx", NGINX_PORT] as [string, number]] : [])];
    const url = (port: number) => `http://127.0.0.1:${port}/v1/chat/completions`;
    for (const [, port] of targets) wrk(url(port), 8, 2, threads, script); // warm-up: connections, JIT, token cache
    const res: Record<string, { p50: number[]; p99: number[]; rps: number[]; cpuUs: number[]; errors: number }> = Object.fromEntries(targets.map(([k]) => [k, { p50: [], p99: [], rps: [], cpuUs: [], errors: 0 }]));
    for (let r = 0; r < rounds; r++) {
      for (const [name, port] of targets) {
        const lat = wrk(url(port), 1, seconds, 1, script);
        const cpuBefore = treeCpuSeconds(pidOf[name]!);
        const thr = wrk(url(port), concurrency, seconds, threads, script);
        const cpuS = treeCpuSeconds(pidOf[name]!) - cpuBefore;
        const a = res[name]!;
        a.p50.push(lat.p50);
        a.p99.push(lat.p99);
        a.rps.push(thr.rps);
        a.cpuUs.push((cpuS / (thr.rps * seconds)) * 1e6);
        a.errors += lat.errors + thr.errors;
      }
    }
    // Resident memory once every run is over: what each target holds after serving them (the gateway: anything kept
    // per request).
    const rssMiB = Object.fromEntries(targets.map(([name]) => [name, treeRssBytes(pidOf[name]!) / 2 ** 20]));
    const d = res.direct!;
    console.log(`\nwrk ${seconds} s per run, ${rounds} interleaved rounds (medians), ${os.cpus().length} cores, loadavg ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}`);
    console.log(`| target | p50 ms (c=1) | p99 ms (c=1) | added p50 / p99 ms | req/s (c=${concurrency}) | CPU µs per request (c=${concurrency}) | RSS MiB after | errors |`);
    console.log("|---|---|---|---|---|---|---|---|");
    for (const [name] of targets) {
      const a = res[name]!;
      const added = name === "direct" ? "—" : `${(median(a.p50) - median(d.p50)).toFixed(3)} / ${(median(a.p99) - median(d.p99)).toFixed(3)}`;
      console.log(`| ${name} | ${median(a.p50).toFixed(3)} | ${median(a.p99).toFixed(3)} | ${added} | ${median(a.rps).toFixed(0)} | ${median(a.cpuUs).toFixed(1)} | ${rssMiB[name]!.toFixed(0)} | ${a.errors} |`);
    }
    if (nginxBin) {
      const share = (name: string) => `${((median(res[name]!.rps) / median(res.nginx!.rps)) * 100).toFixed(0)}%`;
      console.log(`\nthroughput as a share of nginx's: gateway ${share("gateway")}, node-minimal ${share("node-minimal")}, node-pipe ${share("node-pipe")}`);
    }
  } finally {
    for (const p of procs) p.kill("SIGTERM");
    await db.$disconnect();
    await new Promise((r) => setTimeout(r, 300));
    await benchDb.drop();
  }
}

runBenchmark(main);
