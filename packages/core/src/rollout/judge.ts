// The LLM judge of shadow evaluation: a model behind an OpenAI-compatible chat endpoint grades the candidate's answer
// against the stable's for the same request (reference-guided single-answer grading, as in MT-Bench), 1 to 10.
// Pure parts only (messages, parsing); the HTTP call lives in @loraplane/services.

/** Each text is cut to this many characters before it goes to the judge (cost and context bound). */
export const JUDGE_MAX_CHARS = 4_000;

export const JUDGE_SYSTEM_PROMPT = [
  "You are an impartial judge of an AI assistant's answers.",
  "You see a user's request, a reference answer from the model in production, and a candidate answer from a new model.",
  "Rate how well the candidate answers the request compared with the reference, from 1 to 10:",
  "10 = as good as or better than the reference (correct, complete, helpful, in the user's language);",
  "5 = partly correct or clearly worse; 1 = wrong, empty, unrelated, or an unwarranted refusal.",
  "Judge content, not length or style. The texts may be in any language.",
  'Reply with JSON only: {"score": <integer 1-10>, "reason": "<one short sentence>"}',
].join("\n");

const cut = (text: string) => (text.length > JUDGE_MAX_CHARS ? `${text.slice(0, JUDGE_MAX_CHARS)} […]` : text);

/** The request as the gateway stored it ({ prompt } or { messages } JSON), as readable text: the whole conversation. */
export function storedPromptText(stored: string): string {
  try {
    const p = JSON.parse(stored) as { prompt?: unknown; messages?: { role?: unknown; content?: unknown }[] };
    if (typeof p.prompt === "string") return p.prompt;
    if (Array.isArray(p.messages)) {
      return p.messages.map((m) => `${typeof m.role === "string" ? m.role : "user"}: ${typeof m.content === "string" ? m.content : JSON.stringify(m.content)}`).join("\n");
    }
  } catch {
    // stored as plain text
  }
  return stored;
}

/** The chat messages sent to the judge for one mirrored pair. */
export function judgeMessages(pair: { prompt: string; stableText: string; candidateText: string }): { role: "system" | "user"; content: string }[] {
  return [
    { role: "system", content: JUDGE_SYSTEM_PROMPT },
    {
      role: "user",
      content: `[Request]\n${cut(storedPromptText(pair.prompt))}\n\n[Reference answer]\n${cut(pair.stableText)}\n\n[Candidate answer]\n${cut(pair.candidateText)}`,
    },
  ];
}

export type TJudgeVerdict = { score: number; reason: string };

/**
 * The judge's score from its reply: the JSON it was asked for, else "score: N" or a leading "N/10" (models do not
 * always obey). Throws, naming what came back, when there is no score in 1..10.
 */
export function parseJudgeReply(text: string): TJudgeVerdict {
  const json = text.match(/\{[\s\S]*\}/)?.[0];
  if (json) {
    try {
      const o = JSON.parse(json) as { score?: unknown; reason?: unknown };
      const score = typeof o.score === "string" ? Number(o.score) : o.score;
      if (typeof score === "number" && score >= 1 && score <= 10) return { score, reason: typeof o.reason === "string" ? o.reason.slice(0, 500) : "" };
    } catch {
      // not JSON after all: try the looser forms below
    }
  }
  const loose = text.match(/score"?\s*[:=]\s*(\d+(?:\.\d+)?)/i) ?? text.match(/^\s*(\d+(?:\.\d+)?)\s*(?:\/\s*10\b|$|\s)/);
  const score = loose ? Number(loose[1]) : NaN;
  if (score >= 1 && score <= 10) return { score, reason: text.trim().slice(0, 500) };
  throw new Error(`judge reply has no score in 1..10: ${JSON.stringify(text.slice(0, 120))}`);
}
