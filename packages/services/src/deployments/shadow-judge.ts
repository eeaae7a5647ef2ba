// The LLM judge of shadow evaluation (deploy.shadow.judge): the workers' shadow analysis sends stored pairs, off the
// request path, to a model behind an OpenAI-compatible /chat/completions endpoint. Endpoint, model and key come from
// the workers' environment (LORAPLANE_JUDGE_*), never from a pipeline spec: a spec author cannot point the key, or
// users' prompts, at a server of their choosing.
import { judgeMessages, parseJudgeReply, type TJudgeVerdict } from "@loraplane/core";
import { listUnjudgedShadowSamples, recordShadowJudgement, type Db } from "@loraplane/db";

export interface TShadowJudge {
  /** Shown in the gate's reason and the deployment page. */
  model: string;
  judge(pair: { prompt: string; stableText: string; candidateText: string }): Promise<TJudgeVerdict>;
}

export type TOpenAiJudgeOptions = {
  /** Base URL including /v1, e.g. https://api.openai.com/v1 or a vLLM server's http://host:8000/v1. */
  baseUrl: string;
  model: string;
  apiKey?: string | undefined;
  timeoutMs?: number;
};

export function openAiCompatibleJudge(o: TOpenAiJudgeOptions): TShadowJudge {
  const url = `${o.baseUrl.replace(/\/+$/, "")}/chat/completions`;
  return {
    model: o.model,
    async judge(pair) {
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", ...(o.apiKey ? { authorization: `Bearer ${o.apiKey}` } : {}) },
        body: JSON.stringify({ model: o.model, messages: judgeMessages(pair), temperature: 0, max_tokens: 200 }),
        signal: AbortSignal.timeout(o.timeoutMs ?? 60_000),
      });
      const text = await res.text();
      // The body of an error answer is the server's words, never our key; cut short all the same.
      if (!res.ok) throw new Error(`HTTP ${res.status} from the judge: ${text.slice(0, 200)}`);
      let content: unknown;
      try {
        content = (JSON.parse(text) as { choices?: { message?: { content?: unknown } }[] }).choices?.[0]?.message?.content;
      } catch {
        throw new Error(`the judge's answer is not JSON: ${text.slice(0, 120)}`);
      }
      if (typeof content !== "string") throw new Error("the judge's answer has no choices[0].message.content");
      return parseJudgeReply(content);
    },
  };
}

/** Attempts per pair before the judge gives up on it (a reply without a score, a timeout). */
export const JUDGE_MAX_ATTEMPTS = 3;

/**
 * Judges up to `limit` unjudged pairs of a deployment, `concurrency` at a time, stopping new calls after `budgetMs`
 * (the rollout tick is shared by every deployment). A pair whose candidate failed gets 1 without a call: it said
 * nothing a client could use. Returns how many pairs were scored and the last error, if any.
 */
export async function judgePendingPairs(
  db: Db,
  judge: TShadowJudge,
  deploymentId: string,
  options: { limit?: number; concurrency?: number; budgetMs?: number } = {},
): Promise<{ scored: number; lastError: string | null }> {
  const pending = await listUnjudgedShadowSamples(db, deploymentId, options.limit ?? 32, JUDGE_MAX_ATTEMPTS);
  const deadline = Date.now() + (options.budgetMs ?? 8_000);
  let scored = 0;
  let lastError: string | null = null;
  let next = 0;
  async function lane(): Promise<void> {
    while (next < pending.length && Date.now() < deadline) {
      const s = pending[next++]!;
      if (s.candidateError !== null || s.candidateText === null) {
        await recordShadowJudgement(db, s.id, { score: 1, reason: `the candidate gave no answer (${s.candidateError ?? "empty"})` });
        scored++;
        continue;
      }
      try {
        const verdict = await judge.judge({ prompt: s.prompt, stableText: s.stableText, candidateText: s.candidateText });
        await recordShadowJudgement(db, s.id, verdict);
        scored++;
      } catch (error) {
        lastError = (error as Error).message.slice(0, 300);
        await recordShadowJudgement(db, s.id, { error: lastError });
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 4) }, lane));
  return { scored, lastError };
}
