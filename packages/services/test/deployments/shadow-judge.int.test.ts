// The LLM judge of shadow evaluation against a fake OpenAI-compatible judge server (node:http): the workers' shadow
// analysis sends each stored pair to it, stores its 1-10 score, and the gate checks the mean. The case it exists for:
// a candidate that names the wrong city in otherwise identical words agrees with the stable by ROUGE-L (so the
// lexical gate alone passes it) and is stopped by the judge.
import { createServer, type Server } from "node:http";
import { randomBytes } from "node:crypto";
import { scoreShadowPair, summarizeShadow, decideShadow, ZShadowPolicy } from "@loraplane/core";
import { findDeploymentById, insertShadowSamples, listShadowSamples } from "@loraplane/db";
import { seedDeployable, useTestDb } from "@loraplane/db/testing";
import { createPipelineQueue } from "@loraplane/queue";
import { afterAll, beforeAll, expect, it } from "vitest";
import { analyseDeployment, getShadowResults, JUDGE_MAX_ATTEMPTS, markNewVariantReady, openAiCompatibleJudge, promoteDeployment, rollbackDeployment, startDeployment, type TShadowJudge } from "../../src/deployments/index.ts";

const t = useTestDb("shadow-judge");
const queue = createPipelineQueue({ connection: { host: "127.0.0.1", port: 6379 }, prefix: `lpq-judge-${randomBytes(4).toString("hex")}` });
const KEY = "judge-key-0123456789";
const SHADOW = { enabled: true, fraction: 1, minSamples: 6, minAgreement: 0.6, maxStoredSamples: 50, judge: { enabled: true, minScore: 7 } };
const POLICY = { shadow: SHADOW, canary: { stepsBps: [5_000, 10_000], stepSeconds: 1, minRequests: 5 } };

/** What the fake judge saw and how it answers: 9 when the candidate says Paris, 2 otherwise; `reply` overrides. */
const judgeServer = { calls: 0, auth: new Set<string | undefined>(), bodies: [] as { model: string; messages: { role: string; content: string }[]; temperature: number }[], reply: null as null | ((n: number) => { status: number; content: string }) };
let server: Server;
let judgeUrl = "";
let seed: Awaited<ReturnType<typeof seedDeployable>>;

beforeAll(async () => {
  server = createServer((req, res) => {
    let raw = "";
    req.on("data", (c: Buffer) => (raw += c.toString()));
    req.on("end", () => {
      judgeServer.calls++;
      judgeServer.auth.add(req.headers.authorization);
      const body = JSON.parse(raw) as (typeof judgeServer.bodies)[number];
      judgeServer.bodies.push(body);
      const candidate = body.messages[1]!.content.split("[Candidate answer]\n")[1] ?? "";
      const r = judgeServer.reply?.(judgeServer.calls) ?? { status: 200, content: /paris|巴黎/i.test(candidate) ? '{"score": 9, "reason": "same facts"}' : '{"score": 2, "reason": "names the wrong city"}' };
      res.writeHead(r.status, { "content-type": "application/json" });
      res.end(r.status === 200 ? JSON.stringify({ choices: [{ message: { role: "assistant", content: r.content } }] }) : r.content);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  judgeUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}/v1`;
  seed = await seedDeployable(t.db, { versions: 5 });
  // v1 becomes the stable on the endpoint.
  const stable = await deploy(0, {});
  await promoteDeployment({ db: t.db, queue }, { deploymentId: stable, actor: { type: "system", userId: null } });
});

afterAll(async () => {
  await new Promise((r) => server?.close(r));
  await queue.runs.obliterate({ force: true });
  await queue.close();
});

const judge = (): TShadowJudge => openAiCompatibleJudge({ baseUrl: judgeUrl, model: "judge-model", apiKey: KEY, timeoutMs: 5_000 });

async function deploy(version: number, policy: unknown): Promise<string> {
  const v = seed.versions[version]!;
  const { deploymentId } = await startDeployment({ db: t.db, queue }, { runId: v.runId, modelVersionId: v.id, environmentId: seed.environmentId, endpointName: "judged", strategy: "canary", policy });
  await markNewVariantReady({ db: t.db, queue }, { deploymentId, upstreamUrl: "http://127.0.0.1:1", detail: "test" });
  return deploymentId;
}

/** Stores n mirrored pairs as the gateway would: the stable names Paris, the candidate answers `candidate(i)`. */
async function mirrored(deploymentId: string, n: number, candidate: (i: number) => string) {
  const d = (await findDeploymentById(t.db, deploymentId))!;
  const variantId = d.variants.find((v) => v.role === "canary")!.id;
  const rows = Array.from({ length: n }, (_, i) => {
    const stableText = `the capital of france is paris and it has been for centuries ${i}`;
    const candidateText = candidate(i);
    return {
      deploymentId, variantId, gatewayId: "gw-test", requestId: `req-${deploymentId}-${i}`,
      prompt: JSON.stringify({ messages: [{ role: "user", content: `what is the capital of france? (${i})` }] }),
      stableText, candidateText, candidateError: null,
      ...scoreShadowPair({ stableText, candidateText, candidateError: null }),
      stableChars: stableText.length, candidateChars: candidateText.length, stableLatencyMs: 40, candidateLatencyMs: 45, stableTtftMs: 10, candidateTtftMs: 12,
    };
  });
  await insertShadowSamples(t.db, rows, () => 50);
}

async function analyse(id: string, withJudge: TShadowJudge | undefined, now?: Date) {
  const d = (await findDeploymentById(t.db, id))!;
  return analyseDeployment({ db: t.db, queue, ...(withJudge ? { judge: withJudge } : {}) }, d, now ? { now } : {});
}

it("a candidate that words the wrong answer like the right one passes ROUGE-L but is stopped by the judge", { timeout: 30_000 }, async () => {
  const id = await deploy(1, POLICY);
  await mirrored(id, 8, (i) => `the capital of france is berlin and it has been for centuries ${i}`);
  // Without the judge the lexical gate alone would pass it: agreement ~0.9.
  const lexicalOnly = decideShadow(summarizeShadow(await listShadowSamples(t.db, id)), ZShadowPolicy.parse({ ...SHADOW, judge: { enabled: false } }), 1_000);
  expect(lexicalOnly).toMatchObject({ action: "pass", reason: expect.stringMatching(/agreement \(ROUGE-L\) 0\.9/) });

  const out = await analyse(id, judge());
  expect(out.decision).toMatchObject({ action: "rollback", reason: expect.stringMatching(/^shadow gate failed: judge_score 2 < 7 \(8 pairs, agreement \(ROUGE-L\) 0\.9\d+, .*judge 2\/10\)/) });
  expect((await findDeploymentById(t.db, id))!.state).toBe("rolled_back");
  // Each pair was judged once, with the key, at temperature 0, in the conversation's own words.
  expect(judgeServer.calls).toBe(8);
  expect([...judgeServer.auth]).toEqual([`Bearer ${KEY}`]);
  expect(judgeServer.bodies[0]).toMatchObject({ model: "judge-model", temperature: 0 });
  expect(judgeServer.bodies[0]!.messages[1]!.content).toMatch(/^\[Request\]\nuser: what is the capital of france\? \(\d\)\n\n\[Reference answer\]\nthe capital of france is paris/);
  const stored = await listShadowSamples(t.db, id);
  expect(stored.every((s) => s.judgeScore === 2 && s.judgeReason === "names the wrong city" && s.judgeAttempts === 1)).toBe(true);
  // The deployment page shows the judge's figures and its reason on the worst pairs.
  const results = (await getShadowResults(t.db, id))!;
  expect(results.summary).toMatchObject({ judged: 8, judgeMeanScore: 2 });
  expect(results.checks.find((c) => c.name === "judge_score")).toMatchObject({ value: 2, limit: 7, passed: false });
  expect(results.disagreements[0]).toMatchObject({ judgeScore: 2, judgeReason: "names the wrong city" });
});

it("a candidate that paraphrases the right answer passes the judge and starts the canary; judged pairs are not judged again", { timeout: 30_000 }, async () => {
  const calls0 = judgeServer.calls;
  const id = await deploy(2, POLICY);
  await mirrored(id, 4, (i) => `paris is the capital of france, as it has been for centuries ${i}`);
  // 4 of the 6 pairs needed: the judge scores them, the gate waits.
  expect((await analyse(id, judge())).decision).toMatchObject({ action: "wait", reason: "shadow: 4 of 6 mirrored pairs scored" });
  await mirrored(id, 4, (i) => `paris is the capital of france, as it has been for centuries ${i + 4}`);
  const out = await analyse(id, judge());
  expect(out.decision).toMatchObject({ action: "advance", weightBps: 5_000, reason: expect.stringMatching(/^shadow gate passed: 8 pairs, .*judge 9\/10$/) });
  expect(judgeServer.calls - calls0).toBe(8);
  await rollbackDeployment({ db: t.db, queue }, { deploymentId: id, actor: { type: "system", userId: null }, reason: "next test" });
});

it("a judge that fails is retried up to its attempts and the gate then fails naming the judge's error", { timeout: 30_000 }, async () => {
  judgeServer.reply = () => ({ status: 401, content: '{"error": "invalid api key"}' });
  try {
    const id = await deploy(3, { ...POLICY, shadow: { ...SHADOW, maxDurationSeconds: 60 } });
    await mirrored(id, 6, (i) => `the capital of france is paris and it has been for centuries ${i}`);
    const calls0 = judgeServer.calls;
    for (let i = 0; i < JUDGE_MAX_ATTEMPTS + 1; i++) await analyse(id, judge()).then((o) => expect(o.decision.action).toBe("wait"));
    expect(judgeServer.calls - calls0).toBe(6 * JUDGE_MAX_ATTEMPTS); // never more than the attempts per pair
    const stored = await listShadowSamples(t.db, id);
    expect(stored.every((s) => s.judgeScore === null && s.judgeAttempts === JUDGE_MAX_ATTEMPTS && /HTTP 401 from the judge/.test(s.judgeError ?? ""))).toBe(true);
    const out = await analyse(id, judge(), new Date(Date.now() + 61_000));
    expect(out.decision).toMatchObject({ action: "rollback", reason: expect.stringMatching(/judge scored only 0 of 6 pairs in 60s \(last judge error: HTTP 401 from the judge: \{"error": "invalid api key"\}\)/) });
    expect(JSON.stringify(await getShadowResults(t.db, id))).not.toContain(KEY);
  } finally {
    judgeServer.reply = null;
  }
});

it("a policy asking for a judge on workers without one fails at once, saying what to configure", { timeout: 30_000 }, async () => {
  const id = await deploy(4, POLICY);
  await mirrored(id, 6, (i) => `paris ${i}`);
  const out = await analyse(id, undefined);
  expect(out.decision).toMatchObject({ action: "rollback", reason: expect.stringMatching(/workers have none configured \(LORAPLANE_JUDGE_URL, LORAPLANE_JUDGE_MODEL\)/) });
  expect((await findDeploymentById(t.db, id))!.state).toBe("rolled_back");
});
