// Time from an SLO breach to 100% of traffic on stable, with the production cadence: the gateway flushes windows
// every 5 s (GATEWAY_FLUSH_INTERVAL_MS default) and the rollout controller ticks every 2 s (its job scheduler).
// Usage: npx tsx bench/rollback-time.ts [trials=3] [flushMs=5000]
// Each trial: a canary at 25% takes continuous load while healthy, then its upstream gets +800 ms latency (SLO p99
// 500 ms). Measured from that moment: the rollback decision committed in Postgres, and the send time of the last
// request the gateway routed to the canary, and the moment the gateway's table dropped the canary (100% stable).
import { performance } from "node:perf_hooks";
import { createPrismaClient, findDeploymentById } from "../packages/db/src/index.ts";
import { createPipelineQueue } from "../packages/queue/src/index.ts";
import { markNewVariantReady, promoteDeployment, startDeployment } from "../packages/services/src/index.ts";
import { createLogger } from "../apps/gateway/src/log.ts";
import { createGateway } from "../apps/gateway/src/server.ts";
import { startFakeUpstream } from "../apps/gateway/test/fake-upstream.ts";
import { createRolloutController } from "../workers/src/rollout/controller.ts";
import { ROLLOUT_TICK_MS } from "../workers/src/rollout/processor.ts";
import { createBenchDatabase } from "./bench-db.ts";
import { seedGatewayBench } from "./gateway-seed.ts";
import { runBenchmark } from "./stats.ts";

async function main() {
  const trials = Number(process.argv[2] ?? 3);
  const flushMs = Number(process.argv[3] ?? 5000);
  const benchDb = await createBenchDatabase("rollback");
  const db = createPrismaClient({ url: benchDb.url, poolSize: 6 });
  const queue = createPipelineQueue({ connection: { host: "127.0.0.1", port: 6379 }, prefix: `lp-bench-rollback-${process.pid}` });
  const deps = { db, queue };
  const stable = await startFakeUpstream(19201);
  const canary = await startFakeUpstream(19202);
  const gw = createGateway({ db, databaseUrl: benchDb.url, log: createLogger("warn"), gatewayId: "bench", requireAuth: true, maxBodyBytes: 1 << 20, upstreamTimeoutMs: 30_000, flushIntervalMs: flushMs });
  const port = await gw.listen(19203, "127.0.0.1");
  const controller = createRolloutController({ deps, backends: {}, log: createLogger("warn") as never });
  let ticking = true;
  // Held while a deployment is created and marked ready by hand: the bench has no serving backend to bring up.
  let hold: Promise<void> = Promise.resolve();
  let inTick: Promise<unknown> = Promise.resolve();
  const ticks = (async () => {
    while (ticking) {
      await hold;
      inTick = controller.tick().catch((e: unknown) => console.error(e));
      await inTick;
      await new Promise((r) => setTimeout(r, ROLLOUT_TICK_MS));
    }
  })();

  const seed = await seedGatewayBench(db, trials + 1);
  const system = { type: "system" as const, userId: null };
  async function deploy(i: number, upstreamUrl: string, policy: unknown) {
    const v = seed.versions[i]!;
    let release = () => {};
    hold = new Promise((r) => (release = r));
    await inTick;
    try {
      const { deploymentId } = await startDeployment(deps, { runId: v.runId, modelVersionId: v.id, environmentId: seed.environmentId, endpointName: "bench", policy });
      await markNewVariantReady(deps, { deploymentId, upstreamUrl, detail: "bench upstream" });
      return deploymentId;
    } finally {
      release();
    }
  }
  await promoteDeployment(deps, { deploymentId: await deploy(0, stable.url, {}), actor: system });

  const results: { decisionS: number; trafficS: number }[] = [];
  try {
    for (let k = 1; k <= trials; k++) {
      canary.faults.latencyMs = 0;
      const id = await deploy(k, canary.url, { canary: { stepsBps: [2500, 10000], stepSeconds: 3600 }, slo: { p99LatencyMs: 500, ttftP95Ms: 500, errorRate: 0.05 }, minRequestsForRollback: 20 });
      await gw.routing.reload();
      const sent: { at: number; variant: string | null }[] = [];
      let loading = true;
      const loops = Array.from({ length: 8 }, async (_, i) => {
        let n = 0;
        while (loading) {
          const at = performance.now();
          const res = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
            method: "POST",
            headers: { authorization: `Bearer ${seed.token}`, "content-type": "application/json", "x-user-id": `u${i}-${n++}` },
            body: JSON.stringify({ model: "bench", messages: [{ role: "user", content: "hi" }] }),
          });
          await res.arrayBuffer();
          if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
          sent.push({ at, variant: res.headers.get("x-loraplane-variant") });
        }
      });
      await new Promise((r) => setTimeout(r, 3000));
      canary.faults.latencyMs = 800;
      const breachAt = performance.now();
      // The moment the gateway's routing table stops sending anything to the canary (NOTIFY → reload).
      let switchedAt = 0;
      const watch = setInterval(() => {
        if (!switchedAt && !gw.routing.named("bench")[0]?.weighted.some((v) => v.role === "canary")) switchedAt = performance.now();
      }, 2);
      let decidedAt = 0;
      while (performance.now() - breachAt < 60_000) {
        if ((await findDeploymentById(db, id))!.state === "rolled_back") {
          decidedAt = performance.now();
          break;
        }
        await new Promise((r) => setTimeout(r, 25));
      }
      await new Promise((r) => setTimeout(r, 2000));
      clearInterval(watch);
      loading = false;
      await Promise.all(loops);
      if (!decidedAt) throw new Error(`trial ${k}: no rollback within 60 s`);
      const lastCanary = Math.max(...sent.filter((s) => s.variant === "canary").map((s) => s.at));
      if (!switchedAt || lastCanary > switchedAt) throw new Error(`trial ${k}: a request was routed to the canary after the switch`);
      const r = { decisionS: (decidedAt - breachAt) / 1000, trafficS: (switchedAt - breachAt) / 1000 };
      results.push(r);
      console.log(`trial ${k}: gateway on 100% stable +${r.trafficS.toFixed(2)} s; rollback seen in Postgres by a 25 ms poll at +${r.decisionS.toFixed(2)} s; ${sent.length} requests, none failed`);
    }
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    console.log(`\nflush ${flushMs} ms, tick ${ROLLOUT_TICK_MS} ms: median breach → 100% stable ${med(results.map((r) => r.trafficS)).toFixed(2)} s (max ${Math.max(...results.map((r) => r.trafficS)).toFixed(2)} s); decision median ${med(results.map((r) => r.decisionS)).toFixed(2)} s`);
  } finally {
    ticking = false;
    await ticks;
    await gw.close();
    await stable.close();
    await canary.close();
    await queue.runs.obliterate({ force: true }).catch(() => {});
    await queue.close();
    await db.$disconnect();
    await benchDb.drop();
  }
}

runBenchmark(main);
