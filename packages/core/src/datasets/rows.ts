// Dataset rows as training reads them: the same format rules as gpu-runtime's data.py (detect_format, validate_row),
// so a version that passes upload validation is one the train and eval stages accept.

export type TRowFormat = "alpaca" | "chat";

/** Alpaca when it has instruction/output, chat when it has messages; null otherwise (data.py: "unknown"). */
export function detectRowFormat(row: Record<string, unknown>): TRowFormat | null {
  if ("messages" in row) return "chat";
  if ("instruction" in row && "output" in row) return "alpaca";
  return null;
}

/** Why a row cannot be trained on in `format`, or null when it can. */
export function rowProblem(row: Record<string, unknown>, format: TRowFormat): string | null {
  if (format === "alpaca") {
    for (const key of ["instruction", "output"]) if (typeof row[key] !== "string") return `alpaca row needs a string "${key}"`;
    if (row.input != null && typeof row.input !== "string") return `alpaca "input" must be a string`;
    return null;
  }
  const msgs = row.messages;
  if (!Array.isArray(msgs) || msgs.length === 0) return `chat row needs a non-empty "messages" list`;
  for (const m of msgs) {
    if (typeof m !== "object" || m === null || typeof (m as Record<string, unknown>).role !== "string" || typeof (m as Record<string, unknown>).content !== "string") {
      return `each message needs string "role" and "content"`;
    }
  }
  if ((msgs[msgs.length - 1] as { role: string }).role !== "assistant") return "the last message must be from the assistant";
  return null;
}

/** The text a row contributes to training: instruction, input and output, or every message's content. */
export function rowText(row: Record<string, unknown>, format: TRowFormat): string {
  if (format === "chat") return (row.messages as { content: string }[]).map((m) => m.content).join("\n");
  return [row.instruction, row.input, row.output].filter((v): v is string => typeof v === "string" && v !== "").join("\n");
}

// Han, Hiragana, Katakana, Hangul: BPE vocabularies spend about one token per character on these scripts.
const CJK = /[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]/gu;

/** The label every view of these numbers carries: no tokenizer runs in Node, so this is an estimate. */
export const APPROX_TOKENS_LABEL = "approx. tokens (chars/4; CJK characters count 1)";

/** Approximate token count: one per CJK character, one per 4 other characters (rounded up). */
export function approxTokens(text: string): number {
  const cjk = text.match(CJK)?.length ?? 0;
  const rest = [...text].length - cjk;
  return cjk + Math.ceil(rest / 4);
}

export type TLengthHistogram = { edges: number[]; counts: number[]; min: number; max: number; mean: number; p50: number; p95: number };

/**
 * Equal-width histogram of lengths with at most `bins` bins whose width is a round number (1, 2, 5 × 10^k), starting
 * at 0; edges has one more entry than counts. Empty input gives empty bins and zeros.
 */
export function lengthHistogram(lengths: readonly number[], bins = 20): TLengthHistogram {
  if (lengths.length === 0) return { edges: [], counts: [], min: 0, max: 0, mean: 0, p50: 0, p95: 0 };
  const sorted = Float64Array.from(lengths).sort();
  const max = sorted[sorted.length - 1]!;
  const raw = Math.max(1, (max + 1) / bins);
  const pow = 10 ** Math.floor(Math.log10(raw));
  const width = [1, 2, 5, 10].map((m) => m * pow).find((w) => w >= raw)!;
  const n = Math.max(1, Math.ceil((max + 1) / width));
  const counts = new Array<number>(n).fill(0);
  let sum = 0;
  for (const v of sorted) {
    counts[Math.min(n - 1, Math.floor(v / width))]! += 1;
    sum += v;
  }
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return {
    edges: Array.from({ length: n + 1 }, (_, i) => i * width),
    counts,
    min: sorted[0]!,
    max,
    mean: Math.round((sum / sorted.length) * 10) / 10,
    p50: at(0.5),
    p95: at(0.95),
  };
}
