import { describe, expect, it } from "vitest";
import { ZShadowPolicy } from "../../src/rollout/policy";
import { judgeMessages, parseJudgeReply } from "../../src/rollout/judge";
import { decideShadow, exactMatch, isRefusal, rougeL, scoreShadowPair, summarizeShadow, type TShadowSampleLike } from "../../src/rollout/shadow";

describe("shadow scoring", () => {
  it("ROUGE-L F1 matches the hand-computed LCS figure", () => {
    // reference "the cat sat on the mat" (6), candidate "the cat lay on the mat" (6): LCS 5 → P = R = F = 5/6.
    expect(rougeL("The cat sat on the mat", "the cat lay on the mat")).toBeCloseTo(5 / 6, 10);
    // reference 4 tokens, candidate 2 tokens, LCS 2: R = 0.5, P = 1, F = 2/3.
    expect(rougeL("a b c d", "b d")).toBeCloseTo(2 / 3, 10);
    expect(rougeL("", "")).toBe(1);
    expect(rougeL("x", "")).toBe(0);
    expect(rougeL("一 二 三", "一 二 三")).toBe(1);
  });

  it("exact match ignores case and whitespace; refusals are recognised", () => {
    expect(exactMatch(" Paris \n", "paris")).toBe(true);
    expect(exactMatch("Paris", "Lyon")).toBe(false);
    expect(isRefusal("I'm sorry, but I can't help with that.")).toBe(true);
    expect(isRefusal("I cannot assist with this request")).toBe(true);
    expect(isRefusal("The capital of France is Paris.")).toBe(false);
    // Chinese refusals, as a model trained on Chinese data answers; ordinary sentences with 无法/不能 are not refusals.
    for (const refusal of ["抱歉，我无法提供这方面的信息。", "对不起，我不能回答这个问题", "我无法协助完成此类请求。", "作为一个人工智能语言模型，我不能发表个人观点。", "很抱歉，但我不能帮你做这件事"]) {
      expect(isRefusal(refusal), refusal).toBe(true);
    }
    for (const answer of ["北京是中国的首都。", "我无法想象没有音乐的生活。", "这种材料不能用水清洗。"]) expect(isRefusal(answer), answer).toBe(false);
    expect(scoreShadowPair({ stableText: "hi", candidateText: null, candidateError: "HTTP 500" })).toEqual({ rougeL: 0, exactMatch: false, stableRefusal: false, candidateRefusal: false });
  });
});

function sample(rouge: number, extra: Partial<TShadowSampleLike> = {}): TShadowSampleLike {
  return { rougeL: rouge, exactMatch: rouge === 1, stableRefusal: false, candidateRefusal: false, candidateError: null, stableChars: 20, candidateChars: 22, stableLatencyMs: 50, candidateLatencyMs: 60, stableTtftMs: 10, candidateTtftMs: 12, ...extra };
}

describe("shadow gate", () => {
  const policy = ZShadowPolicy.parse({ enabled: true, minSamples: 10, minAgreement: 0.6, maxRefusalRate: 0.1, maxLatencyP99Ms: 500, maxDurationSeconds: 60 });
  it("waits for minSamples, then passes an agreeing candidate", () => {
    expect(decideShadow(summarizeShadow(Array.from({ length: 9 }, () => sample(1))), policy, 1_000).action).toBe("wait");
    const pass = decideShadow(summarizeShadow(Array.from({ length: 10 }, () => sample(0.9))), policy, 1_000);
    expect(pass.action).toBe("pass");
  });
  it("fails on low agreement, refusals, latency, errors — and for lack of traffic after the duration", () => {
    const many = (f: (i: number) => TShadowSampleLike) => summarizeShadow(Array.from({ length: 20 }, (_, i) => f(i)));
    expect(decideShadow(many(() => sample(0.2)), policy, 1).reason).toMatch(/agreement_rouge_l 0.200 < 0.600/);
    expect(decideShadow(many((i) => sample(0.9, { candidateRefusal: i < 5 })), policy, 1).reason).toMatch(/candidate_refusal_rate/);
    expect(decideShadow(many(() => sample(0.9, { candidateLatencyMs: 900 })), policy, 1).reason).toMatch(/candidate_p99_latency_ms 900 > 500/);
    expect(decideShadow(many((i) => sample(i < 3 ? 0 : 0.9, { candidateError: i < 3 ? "HTTP 500" : null })), policy, 1).reason).toMatch(/candidate_error_rate/);
    expect(decideShadow(summarizeShadow([sample(1)]), policy, 61_000)).toMatchObject({ action: "fail", reason: expect.stringMatching(/only 1 of 10/) });
  });
  it("summary figures", () => {
    const s = summarizeShadow([sample(1), sample(0.5, { candidateLatencyMs: 100, candidateChars: 40 }), sample(0, { candidateError: "timeout", candidateLatencyMs: null })]);
    expect(s).toMatchObject({ samples: 3, agreement: 0.5, exactMatchRate: 1 / 3, candidateErrorRate: 1 / 3, candidateMeanChars: 31, candidateLatencyP99Ms: 100 });
  });
});

describe("shadow in the pipeline spec", () => {
  it("deploy.shadow turns the shadow phase on with its settings; a bad value names its path", async () => {
    const { resolveSpec } = await import("../../src/pipeline/spec");
    const { policyFromDeploySpec } = await import("../../src/rollout/policy");
    const base = { name: "s", model: { name: "s", baseModel: "/m" }, dataset: { name: "d", version: "v1" } };
    const ok = resolveSpec({ ...base, deploy: { endpointName: "chat", shadow: { fraction: 0.5, minSamples: 30, minAgreement: 0.7 }, ab: { allocation: { mode: "thompson" } } } });
    if (!ok.ok) throw new Error(JSON.stringify(ok));
    const policy = policyFromDeploySpec(ok.spec.deploy!);
    expect(policy.shadow).toMatchObject({ enabled: true, fraction: 0.5, minSamples: 30, minAgreement: 0.7, maxRefusalRate: 0.1 });
    expect(policy.ab.allocation.mode).toBe("thompson");
    expect(policyFromDeploySpec({ ...ok.spec.deploy!, shadow: undefined }).shadow.enabled).toBe(false);
    const bad = resolveSpec({ ...base, deploy: { endpointName: "chat", shadow: { fraction: 2 } } });
    expect(bad.ok).toBe(false);
    expect(JSON.stringify(bad)).toContain("deploy.shadow.fraction");
  });
});

describe("LLM judge", () => {
  const policy = ZShadowPolicy.parse({ enabled: true, minSamples: 10, minAgreement: 0.5, maxDurationSeconds: 60, judge: { enabled: true, minScore: 7 } });
  const judged = (n: number, score: number | null, agreement = 0.9) => summarizeShadow(Array.from({ length: n }, () => ({ ...sample(agreement), judgeScore: score })));
  it("waits for minSamples judged pairs, then checks the mean score", () => {
    expect(decideShadow(judged(20, null), policy, 1_000)).toMatchObject({ action: "wait", reason: "shadow: 0 of 10 pairs judged" });
    expect(decideShadow(judged(20, 8), policy, 1_000)).toMatchObject({ action: "pass", reason: expect.stringMatching(/judge 8\/10/) });
    const fail = decideShadow(judged(20, 4), policy, 1_000);
    expect(fail).toMatchObject({ action: "fail", reason: expect.stringMatching(/judge_score 4 < 7/) });
    expect(fail.checks.find((c) => c.name === "judge_score")).toMatchObject({ value: 4, limit: 7, passed: false });
  });
  it("a candidate failing another check fails without waiting for the judge; a judge that never answers fails at the duration", () => {
    expect(decideShadow(judged(20, null, 0.1), policy, 1_000)).toMatchObject({ action: "fail", reason: expect.stringMatching(/agreement_rouge_l 0.100 < 0.500/) });
    expect(decideShadow(judged(20, null, 0.1), policy, 1_000).reason).not.toMatch(/judge_score/);
    expect(decideShadow(judged(20, null), policy, 61_000, "HTTP 401")).toMatchObject({ action: "fail", reason: expect.stringMatching(/judge scored only 0 of 10 pairs in 60s \(last judge error: HTTP 401\)/) });
  });
  it("without the judge option the judge score is not a check", () => {
    const plain = ZShadowPolicy.parse({ enabled: true, minSamples: 10 });
    expect(decideShadow(judged(20, null), plain, 1).action).toBe("pass");
    expect(decideShadow(judged(20, null), plain, 1).checks.map((c) => c.name)).not.toContain("judge_score");
  });
  it("messages carry the three texts; replies are parsed leniently and refused when they hold no score", () => {
    const m = judgeMessages({ prompt: "2+2?", stableText: "4", candidateText: "四" });
    expect(m[0]!.role).toBe("system");
    expect(m[1]!.content).toBe("[Request]\n2+2?\n\n[Reference answer]\n4\n\n[Candidate answer]\n四");
    const chat = JSON.stringify({ messages: [{ role: "system", content: "be brief" }, { role: "user", content: "首都？" }] });
    expect(judgeMessages({ prompt: chat, stableText: "巴黎", candidateText: "巴黎" })[1]!.content).toMatch(/^\[Request\]\nsystem: be brief\nuser: 首都？\n/);
    expect(judgeMessages({ prompt: JSON.stringify({ prompt: "2+2?" }), stableText: "4", candidateText: "4" })[1]!.content).toMatch(/^\[Request\]\n2\+2\?\n/);
    expect(judgeMessages({ prompt: "x".repeat(10_000), stableText: "", candidateText: "" })[1]!.content.length).toBeLessThan(4_200);
    expect(parseJudgeReply('{"score": 9, "reason": "same answer"}')).toEqual({ score: 9, reason: "same answer" });
    expect(parseJudgeReply('Sure.\n```json\n{"score": "7", "reason": "ok"}\n```')).toEqual({ score: 7, reason: "ok" });
    expect(parseJudgeReply("Score: 3 — wrong city").score).toBe(3);
    expect(parseJudgeReply("8/10, close enough").score).toBe(8);
    expect(() => parseJudgeReply('{"score": 42}')).toThrow(/no score in 1..10/);
    expect(() => parseJudgeReply("I cannot judge this")).toThrow(/no score in 1..10: "I cannot judge this"/);
  });
  it("deploy.shadow.judge turns the judge on; minScore outside 1..10 names its path", async () => {
    const { resolveSpec } = await import("../../src/pipeline/spec");
    const { policyFromDeploySpec } = await import("../../src/rollout/policy");
    const base = { name: "s", model: { name: "s", baseModel: "/m" }, dataset: { name: "d", version: "v1" } };
    const ok = resolveSpec({ ...base, deploy: { endpointName: "chat", shadow: { minSamples: 30, judge: { minScore: 7.5 } } } });
    if (!ok.ok) throw new Error(JSON.stringify(ok));
    expect(policyFromDeploySpec(ok.spec.deploy!).shadow.judge).toEqual({ enabled: true, minScore: 7.5 });
    const without = resolveSpec({ ...base, deploy: { endpointName: "chat", shadow: { minSamples: 30 } } });
    if (!without.ok) throw new Error(JSON.stringify(without));
    expect(policyFromDeploySpec(without.spec.deploy!).shadow.judge.enabled).toBe(false);
    const bad = resolveSpec({ ...base, deploy: { endpointName: "chat", shadow: { judge: { minScore: 11 } } } });
    expect(JSON.stringify(bad)).toContain("deploy.shadow.judge.minScore");
  });
});
