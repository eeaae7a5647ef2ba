// `npm run demo`: everything `npm start` does, then a live run of the demo pipeline. A demo service user (an engineer,
// not the admin, so the admin may approve its release) triggers the run through the REST API with its own token; a
// steady stream of completions goes through the gateway; the terminal narrates stage changes, the gate decision, the
// approval link for the admin, each canary step and the promotion.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createPrismaClient } from "@loraplane/db";
import { createApiToken, createUser, formatBeforeAfter, listMembers, listUsers, setMembers, type TEvalReportMetrics, type TScope, ZEvalReportMetrics } from "@loraplane/services";
import { runStart, type TStartedStack } from "../start/main.ts";

const GPU_RUNTIME = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "gpu-runtime");

const BOT_EMAIL = "demo-bot@loraplane.local";
const BOT_SCOPES: TScope[] = ["runs:write", "deployments:read", "models:read", "inference:invoke"];
const POLL_MS = 2_000;
const TRAFFIC_LANES = 4;
const TRAFFIC_REPORT_MS = 20_000;
// The demo dataset's tasks (gpu-runtime/loraplane_runtime/demo_data.py).
const DEMO_PROMPTS = ["写成汉字：\n\n2026", "Upper:\n\ngateway", "写成数字：\n\n二〇二六", "问候：\n\nAda", "Upper:\n\ncanary", "写成汉字：\n\n1024"];

interface TStage {
  stage: string;
  status: string;
  step: number | null;
  totalSteps: number | null;
  progress: number | null;
  etaSeconds: number | null;
  error: string | null;
}
interface TRun {
  id: string;
  number: number;
  status: string;
  error: string | null;
  stages: TStage[];
}
interface TEvent {
  id: string;
  type: string;
  reason: string | null;
  weights: Record<string, number> | null;
}
interface TDeploymentDetail {
  deployment: { id: string; state: string; reason: string | null; runId: string | null };
  events: TEvent[];
}

/** A service identity for the demo: created once, given a fresh short-lived token on every demo start. */
async function demoToken(stack: TStartedStack): Promise<string> {
  const db = createPrismaClient({ url: stack.databaseUrl, poolSize: 2 });
  const actor = { type: "system" as const, userId: stack.admin.userId };
  try {
    let bot = (await listUsers(db)).find((u) => u.email === BOT_EMAIL);
    bot ??= (await createUser(db, { email: BOT_EMAIL, name: "Demo service", role: "engineer", generatePassword: false }, actor)).user;
    const members = await listMembers(db, stack.seed.projectId);
    if (!members.some((m) => m.userId === bot.id)) {
      await setMembers(db, stack.seed.projectId, [...members.map((m) => ({ userId: m.userId, role: m.role })), { userId: bot.id, role: "engineer" }], actor);
    }
    const { secret } = await createApiToken(
      db,
      { name: `npm run demo ${new Date().toISOString()}`, userId: bot.id, scopes: BOT_SCOPES, projectId: stack.seed.projectId, expiresAt: new Date(Date.now() + 24 * 3600_000) },
      actor,
    );
    return secret;
  } finally {
    await db.$disconnect();
  }
}

function api(base: string, token: string) {
  return async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(base + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path} → HTTP ${res.status}: ${text.slice(0, 300)}`);
    return JSON.parse(text) as T;
  };
}

/** Keeps a few completions in flight through one environment's URL on the gateway; counts what each version answered. */
function startTraffic(baseUrl: string, token: string, model: string) {
  const stats = { ok: 0, failed: 0, notLive: 0, lastError: "", byVersion: new Map<string, number>() };
  let running = true;
  const lane = async (n: number) => {
    for (let i = n; running; i++) {
      try {
        const res = await fetch(`${baseUrl}/v1/completions`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "x-user-id": `demo-user-${i % 40}` },
          body: JSON.stringify({ model, prompt: DEMO_PROMPTS[i % DEMO_PROMPTS.length], max_tokens: 12, temperature: 0 }),
          signal: AbortSignal.timeout(30_000),
        });
        const text = await res.text();
        if (res.ok) {
          stats.ok++;
          const version = res.headers.get("x-loraplane-model-version") ?? "?";
          stats.byVersion.set(version, (stats.byVersion.get(version) ?? 0) + 1);
        } else if (res.status === 404 && stats.ok === 0) {
          // No endpoint until the first version of the model is live: not a failure, just nothing to call yet.
          stats.notLive++;
          await new Promise((r) => setTimeout(r, 1_000));
        } else {
          stats.failed++;
          stats.lastError = `HTTP ${res.status} ${text.slice(0, 120)}`;
          await new Promise((r) => setTimeout(r, 1_000));
        }
      } catch (error) {
        stats.failed++;
        stats.lastError = (error as Error).message;
        await new Promise((r) => setTimeout(r, 1_000));
      }
    }
  };
  void Promise.all(Array.from({ length: TRAFFIC_LANES / 2 }, (_, n) => lane(n)));
  return { stats, stop: () => void (running = false) };
}

type TCall = <T>(method: string, path: string, body?: unknown) => Promise<T>;

interface TPipelineSpec {
  training?: Record<string, unknown>;
  eval?: Record<string, unknown>;
  deploy?: { endpointName: string };
}

/** The untrained base model's eval report under the pipeline's own eval settings: the "before" of the demo's table.
 *  Cached by model, dataset digest and spec, which do not change between demo starts. */
async function baselineReport(stack: TStartedStack, spec: TPipelineSpec, say: (line: string) => void): Promise<TEvalReportMetrics> {
  const { modelDir, datasetDir } = stack.seed;
  const jobSpec = { training: spec.training ?? {}, eval: spec.eval ?? {} };
  const key = createHash("sha256")
    .update(JSON.stringify([modelDir, await readFile(path.join(modelDir, "config.json"), "utf8"), await readFile(path.join(datasetDir, "dataset.json"), "utf8"), jobSpec]))
    .digest("hex")
    .slice(0, 16);
  const out = path.join(os.tmpdir(), "loraplane-demo-baseline", key);
  const reportPath = path.join(out, "eval_report.json");
  if (!existsSync(reportPath)) {
    say("evaluating the untrained base model on the test split (the 'before' column; once per dataset)…");
    await mkdir(out, { recursive: true });
    const jobPath = path.join(out, "job.json");
    await writeFile(jobPath, JSON.stringify({ runId: "demo-baseline", stage: "eval", paths: { baseModel: modelDir, dataDir: datasetDir, outputDir: out, adapterDir: null }, spec: jobSpec }));
    const python = path.join(GPU_RUNTIME, ".venv", "bin", "python");
    // Without LORAPLANE_URL the runtime reports on stdout, which nobody needs here.
    const env = { ...process.env, LORAPLANE_URL: "", LORAPLANE_RUN_TOKEN: "" };
    await promisify(execFile)(python, ["-m", "loraplane_runtime.cli", "evaluate", "--config", jobPath], { cwd: GPU_RUNTIME, env, maxBuffer: 64 * 1024 * 1024 });
  }
  return ZEvalReportMetrics.parse(JSON.parse(await readFile(reportPath, "utf8")));
}

/** The run's own eval_report.json, downloaded through the REST API like any artifact. */
async function runEvalReport(call: TCall, runId: string): Promise<TEvalReportMetrics> {
  const { items } = await call<{ items: { id: string; kind: string }[] }>("GET", `/api/v1/runs/${runId}/artifacts`);
  const artifact = items.filter((a) => a.kind === "eval_report").at(-1);
  if (!artifact) throw new Error(`run ${runId} has no eval_report artifact`);
  return ZEvalReportMetrics.parse(await call<unknown>("GET", `/api/v1/artifacts/${artifact.id}/download`));
}

interface TRelease {
  id: string;
  runId: string | null;
  state: string;
  reason: string | null;
  stages: { environment: { name: string; inferenceUrl: string | null }; state: string; reason: string | null; soak: { remainingSeconds: number } | null }[];
}

/** Follows a run's release through dev → staging → prod, printing each stage change and the approval link. */
async function watchRelease(stack: TStartedStack, call: TCall, runId: string, say: (line: string) => void, elapsed: () => string, onTick: () => void): Promise<string> {
  const seen = new Map<string, string>();
  let releaseId: string | null = null;
  for (;;) {
    if (!releaseId) {
      const { items } = await call<{ items: TRelease[] }>("GET", `/api/v1/projects/${stack.seed.projectId}/releases`);
      releaseId = items.find((r) => r.runId === runId)?.id ?? null;
      if (releaseId) say(`[${elapsed()}] release ${releaseId}: dev → staging → prod (API: ${stack.webUrl}/api/v1/releases/${releaseId})`);
    }
    if (releaseId) {
      const r = await call<TRelease>("GET", `/api/v1/releases/${releaseId}`).catch(() => null);
      for (const s of r?.stages ?? []) {
        const key = `${s.state} ${s.reason ?? ""}`;
        if (seen.get(s.environment.name) === key) continue;
        seen.set(s.environment.name, key);
        say(`[${elapsed()}] release ${s.environment.name}: ${s.state}${s.reason ? ` — ${s.reason}` : ""}${s.state === "promoted" ? ` (serving at ${s.environment.inferenceUrl})` : ""}`);
        if (s.state === "awaiting_approval") {
          say(`[${elapsed()}] APPROVAL NEEDED for ${s.environment.name}: log in at ${stack.webUrl} as ${stack.admin.email} and approve release ${releaseId} in the dashboard,`);
          say(`    or: LORAPLANE_URL=${stack.webUrl} LORAPLANE_TOKEN=<an approver's token> npx loraplane release approve ${releaseId} --env ${s.environment.name}`);
          say(`    (${stack.webUrl}/api/v1/releases/${releaseId}/environments/${s.environment.name}/approve; the run's requester may not approve it)`);
        }
      }
      if (r && r.state !== "in_progress") {
        say(`[${elapsed()}] release ${r.state}${r.reason ? `: ${r.reason}` : ""}`);
        return r.state;
      }
    }
    onTick();
    await new Promise((res) => setTimeout(res, POLL_MS));
  }
}

/** Prints one run's stages, progress, gate decision, approval wait and rollout events until it ends; returns its status. */
async function watchRun(
  stack: TStartedStack,
  call: TCall,
  run: { id: string; number: number },
  say: (line: string) => void,
  elapsed: () => string,
  onTick: () => void,
  afterGate: () => Promise<void>,
): Promise<string> {
  const seenStages = new Map<string, string>();
  const seenProgress = new Map<string, number>();
  const seenEvents = new Set<string>();
  let gateReported = false;
  let approvalReported = false;
  let deploymentId: string | null = null;

  for (;;) {
    const detail = await call<TRun>("GET", `/api/v1/runs/${run.id}`).catch((error: unknown) => {
      say(`(status check failed: ${(error as Error).message}; retrying)`);
      return null;
    });
    if (detail) {
      for (const s of detail.stages) {
        const key = `${s.stage}`;
        if (seenStages.get(key) !== s.status) {
          seenStages.set(key, s.status);
          say(`[${elapsed()}] run #${run.number} stage ${s.stage}: ${s.status}${s.error ? ` — ${s.error}` : ""}`);
        }
        if (s.status === "running" && s.totalSteps && s.step !== null) {
          const tenth = Math.floor((s.step / s.totalSteps) * 10);
          if (tenth > (seenProgress.get(key) ?? -1)) {
            seenProgress.set(key, tenth);
            say(`[${elapsed()}]   ${s.stage} step ${s.step}/${s.totalSteps}${s.etaSeconds !== null ? `, about ${Math.round(s.etaSeconds)}s left` : ""}`);
          }
        }
      }
      const gate = detail.stages.find((s) => s.stage === "gate");
      if (!gateReported && gate && ["succeeded", "blocked", "failed"].includes(gate.status)) {
        gateReported = true;
        const ev = await call<{ results: { metric: string; value: number; threshold: number | null; comparator: string | null; passed: boolean | null }[]; gate: { passed: boolean | null; reasons: string[] } }>("GET", `/api/v1/runs/${run.id}/eval`);
        for (const r of ev.results) say(`    ${r.metric.padEnd(18)} ${r.value.toFixed(3)}${r.threshold !== null ? `  (needs ${r.comparator} ${r.threshold}: ${r.passed ? "pass" : "FAIL"})` : ""}`);
        say(`[${elapsed()}] gate ${ev.gate.passed ? "PASSED" : `BLOCKED: ${ev.gate.reasons.join("; ")}`}`);
        await afterGate().catch((error: unknown) => say(`(before/after table unavailable: ${(error as Error).message})`));
      }
      if (!approvalReported && detail.status === "waiting_approval") {
        approvalReported = true;
        say(`[${elapsed()}] waiting for approval: log in at ${stack.webUrl} as ${stack.admin.email} and approve the release at ${stack.webUrl}/approvals`);
      }
      if (!deploymentId && seenStages.has("deploy")) {
        const { items } = await call<{ items: { id: string; runId: string | null }[] }>("GET", `/api/v1/projects/${stack.seed.projectId}/deployments`);
        deploymentId = items.find((d) => d.runId === run.id)?.id ?? null;
        if (deploymentId) say(`[${elapsed()}] deployment created → ${stack.webUrl}/deployments/${deploymentId} (live charts)`);
      }
      if (deploymentId) {
        const d = await call<TDeploymentDetail>("GET", `/api/v1/deployments/${deploymentId}`);
        for (const e of d.events) {
          if (seenEvents.has(e.id)) continue;
          seenEvents.add(e.id);
          const weights = e.weights ? ` ${Object.entries(e.weights).map(([role, bps]) => `${role} ${bps / 100}%`).join(" / ")}` : "";
          say(`[${elapsed()}] rollout ${e.type}:${weights}${e.reason ? ` — ${e.reason}` : ""}`);
        }
      }
      if (["succeeded", "failed", "blocked", "cancelled"].includes(detail.status)) {
        say(`[${elapsed()}] run #${detail.number} ended ${detail.status}${detail.error ? `: ${detail.error}` : ""}`);
        return detail.status;
      }
    }
    onTick();
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

async function runDemo(stack: TStartedStack): Promise<void> {
  const say = stack.prefix("demo");
  const t0 = Date.now();
  const elapsed = () => `${Math.round((Date.now() - t0) / 1000)}s`;
  const token = await demoToken(stack);
  const call: TCall = api(stack.webUrl, token);

  const { spec } = await call<{ spec: TPipelineSpec }>("GET", `/api/v1/pipelines/${stack.seed.pipelineId}`);
  const endpoint = spec.deploy?.endpointName;
  if (!endpoint) throw new Error(`pipeline ${stack.seed.pipelineName} has no deploy section; nothing to roll out`);
  const before = await baselineReport(stack, spec, say);
  say(`untrained base model on the ${before.numSamples} held-out test rows: ${["exact_match", "rouge_l", "bleu"].map((m) => `${m} ${before.metrics[m]?.toFixed(3) ?? "–"}`).join(", ")}`);
  const printBeforeAfter = (runId: string, runNumber: number) => async () => {
    const after = await runEvalReport(call, runId);
    say(`before → after: the untrained base model vs run #${runNumber}'s adapter (both eval_report.json, same test rows and decoding):`);
    for (const line of formatBeforeAfter(before, after)) say(`    ${line}`);
  };

  // Each environment has its own URL on the gateway: /<project>/<environment>/v1.
  const { slug } = await call<{ slug: string }>("GET", `/api/v1/projects/${stack.seed.projectId}`);
  const envTraffic = ["dev", "staging", "prod"].map((e) => ({ env: e, t: startTraffic(`${stack.gatewayUrl}/${slug}/${e}`, token, endpoint) }));
  const traffic = {
    stats: {
      get ok() {
        return envTraffic.reduce((n, x) => n + x.t.stats.ok, 0);
      },
      get failed() {
        return envTraffic.reduce((n, x) => n + x.t.stats.failed, 0);
      },
      get notLive() {
        return envTraffic.reduce((n, x) => n + x.t.stats.notLive, 0);
      },
      get lastError() {
        return envTraffic.map((x) => x.t.stats.lastError).filter(Boolean).join("; ");
      },
      get byVersion() {
        return new Map(envTraffic.flatMap((x) => [...x.t.stats.byVersion].map(([v, n]) => [`${x.env} ${v}`, n] as const)));
      },
    },
    stop: () => envTraffic.forEach((x) => x.t.stop()),
  };
  say(`sending a steady stream of completions to ${stack.gatewayUrl}/${slug}/{dev,staging,prod}/v1/completions (model "${endpoint}", ${TRAFFIC_LANES / 2} in flight per environment)`);
  let lastTrafficReport = Date.now();
  const reportTraffic = () => {
    if (Date.now() - lastTrafficReport < TRAFFIC_REPORT_MS) return;
    lastTrafficReport = Date.now();
    const { ok, failed, notLive, lastError, byVersion } = traffic.stats;
    const versions = [...byVersion].map(([v, n]) => `${v}: ${n}`).join(", ");
    say(
      ok === 0 && failed === 0
        ? `[${elapsed()}] traffic: endpoint "${endpoint}" not live yet (${notLive} tries); it goes live when the first version is deployed`
        : `[${elapsed()}] traffic: ${ok} answered (${versions}), ${failed} failed${failed && lastError ? ` (last: ${lastError})` : ""}`,
    );
  };

  // Run 1 puts the first version on the endpoint; run 2 (in real life: the next commit) then goes out as a canary
  // against it, step by step under live traffic, and is promoted when its latency and errors hold.
  for (const [index, purpose] of ["the first version of the endpoint", "a canary against the first version"].entries()) {
    const { run } = await call<{ run: { id: string; number: number } }>("POST", `/api/v1/pipelines/${stack.seed.pipelineId}/runs`, {});
    say(`[${elapsed()}] ${BOT_EMAIL} triggered ${stack.seed.pipelineName} run #${run.number} (${purpose}) through the REST API → ${stack.webUrl}/runs/${run.id}`);
    let status = await watchRun(stack, call, run, say, elapsed, reportTraffic, printBeforeAfter(run.id, run.number));
    // The run ends with its first environment (dev); its release carries the version on to staging and prod.
    if (status === "succeeded") status = (await watchRelease(stack, call, run.id, say, elapsed, reportTraffic)) === "succeeded" ? "succeeded" : "release failed";
    if (status !== "succeeded") {
      traffic.stop();
      say(`run #${run.number} did not succeed (${status}); the stack keeps running — Ctrl-C stops it.`);
      return;
    }
    if (index === 1) {
      traffic.stop();
      const versions = [...traffic.stats.byVersion].map(([v, n]) => `${v}: ${n}`).join(", ");
      say(`traffic: ${traffic.stats.ok} answered, ${traffic.stats.failed} failed (${versions || "none"})`);
      say(`[${elapsed()}] run #${run.number}'s release is live in dev, staging and prod ("${endpoint}"). The stack keeps running; Ctrl-C stops it.`);
    }
  }
}

runStart({ onReady: runDemo });
