// Shadow evaluation: the gateway copies a share of live requests to a candidate that serves no client, and each
// (stable answer, candidate answer) pair is scored here. The gate compares the aggregate with the shadow policy.
import { type TCheck } from "./analysis";
import type { TShadowPolicy } from "./policy";

/** Lower-cased word tokens (letters and digits of any script); at most `limit` of them, to bound the LCS cost. */
export function tokenize(text: string, limit = 400): string[] {
  const out = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  return out.length > limit ? out.slice(0, limit) : out;
}

/**
 * ROUGE-L F1 (Lin 2004): the longest common subsequence of the two token sequences, as recall against `reference`
 * and precision of `candidate`, combined by their harmonic mean. Two empty answers agree fully (1).
 */
export function rougeL(reference: string, candidate: string): number {
  const r = tokenize(reference);
  const c = tokenize(candidate);
  if (r.length === 0 && c.length === 0) return 1;
  if (r.length === 0 || c.length === 0) return 0;
  // One-row dynamic programme: prev[j] = LCS(r[0..i), c[0..j)).
  let prev = new Array<number>(c.length + 1).fill(0);
  let cur = new Array<number>(c.length + 1).fill(0);
  for (let i = 1; i <= r.length; i++) {
    for (let j = 1; j <= c.length; j++) cur[j] = r[i - 1] === c[j - 1] ? prev[j - 1]! + 1 : Math.max(prev[j]!, cur[j - 1]!);
    [prev, cur] = [cur, prev];
  }
  const lcs = prev[c.length]!;
  if (lcs === 0) return 0;
  const recall = lcs / r.length;
  const precision = lcs / c.length;
  return (2 * recall * precision) / (recall + precision);
}

/** Exact match after normalising case and whitespace. */
export function exactMatch(a: string, b: string): boolean {
  const norm = (s: string) => s.trim().toLowerCase().replace(/\s+/g, " ");
  return norm(a) === norm(b);
}

const REFUSAL_RE =
  /\b(i\s+(?:can(?:no|')t|am\s+(?:not\s+able|unable)|won'?t|must\s+decline)\s+(?:help|assist|provide|do|comply|answer|fulfil)|i'?m\s+(?:sorry|afraid),?\s+but\s+i|as\s+an\s+ai(?:\s+language\s+model)?,?\s+i\s+(?:can(?:no|')t|am\s+not)|i\s+(?:can(?:no|')t|won'?t)\s+(?:help|assist)\s+with\s+that)/i;

// The same in Chinese: an apology followed by "cannot" (抱歉，我无法…), "I cannot" + help/provide/answer (我不能提供…),
// "as an AI" (作为一个人工智能…). 无法/不能 alone is ordinary Chinese (我无法想象…, 不能用水清洗) and is not matched.
// gpu-runtime's DEFAULT_REFUSAL_PATTERNS (config.py) carry the same patterns for the offline safety metric.
const REFUSAL_ZH_RE =
  /(?:抱歉|对不起|很遗憾)[，,。！!\s]*(?:但是?)?我?(?:无法|不能|没办法|不可以)|我(?:无法|不能|不可以|没办法)(?:帮助|协助|提供|回答|满足|完成|为您|为你|帮您|帮你|帮忙)|作为(?:一个|一名)?(?:AI|人工智能)/i;

/** A refusal by the usual English or Chinese phrasings ("I can't help with…", "I'm sorry, but I…", "抱歉，我无法…"). */
export function isRefusal(text: string): boolean {
  const head = text.slice(0, 600);
  return REFUSAL_RE.test(head) || REFUSAL_ZH_RE.test(head);
}

/** One mirrored request as the gateway records it. */
export interface TShadowPairInput {
  stableText: string;
  candidateText: string | null;
  candidateError: string | null;
}

export interface TShadowPairScore {
  rougeL: number;
  exactMatch: boolean;
  stableRefusal: boolean;
  candidateRefusal: boolean;
}

/** Scores one pair; a candidate that failed has agreement 0 (it said nothing a client could use). */
export function scoreShadowPair(p: TShadowPairInput): TShadowPairScore {
  const candidate = p.candidateText ?? "";
  const failed = p.candidateError !== null;
  return {
    rougeL: failed ? 0 : rougeL(p.stableText, candidate),
    exactMatch: !failed && exactMatch(p.stableText, candidate),
    stableRefusal: isRefusal(p.stableText),
    candidateRefusal: !failed && isRefusal(candidate),
  };
}

/** The stored sample fields the summary reads. */
export interface TShadowSampleLike {
  rougeL: number;
  exactMatch: boolean;
  stableRefusal: boolean;
  candidateRefusal: boolean;
  candidateError: string | null;
  stableChars: number;
  candidateChars: number;
  stableLatencyMs: number;
  candidateLatencyMs: number | null;
  stableTtftMs: number | null;
  candidateTtftMs: number | null;
  /** The LLM judge's 1-10 score; null while not judged (or without a judge). */
  judgeScore?: number | null;
}

export interface TShadowSummary {
  samples: number;
  /** Mean ROUGE-L F1 of candidate against stable. */
  agreement: number | null;
  exactMatchRate: number | null;
  stableRefusalRate: number | null;
  candidateRefusalRate: number | null;
  candidateErrorRate: number | null;
  stableMeanChars: number | null;
  candidateMeanChars: number | null;
  stableLatencyP50Ms: number | null;
  stableLatencyP99Ms: number | null;
  candidateLatencyP50Ms: number | null;
  candidateLatencyP99Ms: number | null;
  stableTtftP95Ms: number | null;
  candidateTtftP95Ms: number | null;
  /** Pairs the LLM judge has scored, and their mean score (1-10). */
  judged: number;
  judgeMeanScore: number | null;
}

/** Nearest-rank quantile of raw values (samples are few and bounded, no histogram needed). */
export function quantile(values: readonly number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : null);
const rate = (xs: readonly boolean[]) => (xs.length ? xs.filter(Boolean).length / xs.length : null);

export function summarizeShadow(samples: readonly TShadowSampleLike[]): TShadowSummary {
  const answered = samples.filter((s) => s.candidateError === null);
  const notNull = (xs: (number | null)[]) => xs.filter((x): x is number => x !== null);
  return {
    samples: samples.length,
    agreement: mean(samples.map((s) => s.rougeL)),
    exactMatchRate: rate(samples.map((s) => s.exactMatch)),
    stableRefusalRate: rate(samples.map((s) => s.stableRefusal)),
    candidateRefusalRate: rate(answered.map((s) => s.candidateRefusal)),
    candidateErrorRate: rate(samples.map((s) => s.candidateError !== null)),
    stableMeanChars: mean(samples.map((s) => s.stableChars)),
    candidateMeanChars: mean(answered.map((s) => s.candidateChars)),
    stableLatencyP50Ms: quantile(samples.map((s) => s.stableLatencyMs), 0.5),
    stableLatencyP99Ms: quantile(samples.map((s) => s.stableLatencyMs), 0.99),
    candidateLatencyP50Ms: quantile(notNull(answered.map((s) => s.candidateLatencyMs)), 0.5),
    candidateLatencyP99Ms: quantile(notNull(answered.map((s) => s.candidateLatencyMs)), 0.99),
    stableTtftP95Ms: quantile(notNull(samples.map((s) => s.stableTtftMs)), 0.95),
    candidateTtftP95Ms: quantile(notNull(answered.map((s) => s.candidateTtftMs)), 0.95),
    judged: notNull(samples.map((s) => s.judgeScore ?? null)).length,
    judgeMeanScore: mean(notNull(samples.map((s) => s.judgeScore ?? null))),
  };
}

export type TShadowGate =
  | { action: "wait"; reason: string; checks: TCheck[] }
  | { action: "pass"; reason: string; checks: TCheck[] }
  | { action: "fail"; reason: string; checks: TCheck[] };

/** The gate's checks on a summary; the refusal, latency and error checks pass while there is no data for them. */
export function shadowChecks(s: TShadowSummary, policy: TShadowPolicy): TCheck[] {
  return [
    { name: "agreement_rouge_l", value: s.agreement, limit: policy.minAgreement, passed: s.agreement !== null && s.agreement >= policy.minAgreement },
    { name: "candidate_refusal_rate", value: s.candidateRefusalRate, limit: policy.maxRefusalRate, passed: !(s.candidateRefusalRate! > policy.maxRefusalRate) },
    { name: "candidate_p99_latency_ms", value: s.candidateLatencyP99Ms, limit: policy.maxLatencyP99Ms, passed: !(s.candidateLatencyP99Ms! > policy.maxLatencyP99Ms) },
    { name: "candidate_error_rate", value: s.candidateErrorRate, limit: policy.maxErrorRate, passed: !(s.candidateErrorRate! > policy.maxErrorRate) },
    ...(policy.judge.enabled
      ? [{ name: "judge_score", value: s.judgeMeanScore, limit: policy.judge.minScore, passed: s.judgeMeanScore !== null && s.judgeMeanScore >= policy.judge.minScore }]
      : []),
  ];
}

const LOWER_BOUND_CHECKS = new Set(["agreement_rouge_l", "judge_score"]);
const fmt = (v: number | null) => (v === null ? "n/a" : Number.isInteger(v) ? String(v) : v.toFixed(3));

/**
 * The shadow gate: judged once minSamples pairs are scored (lower-bound checks need the data); passes when every
 * check passes, fails on any failing check; without enough pairs after maxDurationSeconds it fails for lack of traffic.
 */
export function decideShadow(s: TShadowSummary, policy: TShadowPolicy, elapsedMs: number, lastJudgeError: string | null = null): TShadowGate {
  const checks = shadowChecks(s, policy);
  const outOfTime = elapsedMs >= policy.maxDurationSeconds * 1000;
  if (s.samples < policy.minSamples) {
    if (outOfTime) {
      return { action: "fail", checks, reason: `shadow gate: only ${s.samples} of ${policy.minSamples} mirrored pairs in ${policy.maxDurationSeconds}s` };
    }
    return { action: "wait", checks, reason: `shadow: ${s.samples} of ${policy.minSamples} mirrored pairs scored` };
  }
  // The judge's mean counts once minSamples pairs are judged, not on the first few it happened to finish; a candidate
  // already failing another check fails without waiting for the judge.
  const judgePending = policy.judge.enabled && s.judged < policy.minSamples;
  const failed = checks.filter((c) => !c.passed && !(judgePending && c.name === "judge_score"));
  if (judgePending && failed.length === 0) {
    if (outOfTime) {
      return { action: "fail", checks, reason: `shadow gate: the LLM judge scored only ${s.judged} of ${policy.minSamples} pairs in ${policy.maxDurationSeconds}s${lastJudgeError ? ` (last judge error: ${lastJudgeError})` : ""}` };
    }
    return { action: "wait", checks, reason: `shadow: ${s.judged} of ${policy.minSamples} pairs judged` };
  }
  const judged = policy.judge.enabled ? `, judge ${fmt(s.judgeMeanScore)}/10` : "";
  const summary = `${s.samples} pairs, agreement (ROUGE-L) ${fmt(s.agreement)}, exact match ${fmt(s.exactMatchRate)}, refusals ${fmt(s.candidateRefusalRate)}, p99 ${fmt(s.candidateLatencyP99Ms)} ms${judged}`;
  if (failed.length) {
    const what = failed.map((c) => `${c.name} ${fmt(c.value)} ${LOWER_BOUND_CHECKS.has(c.name) ? "<" : ">"} ${fmt(c.limit)}`).join(", ");
    return { action: "fail", checks, reason: `shadow gate failed: ${what} (${summary})` };
  }
  return { action: "pass", checks, reason: `shadow gate passed: ${summary}` };
}
