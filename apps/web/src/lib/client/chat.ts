// Eval prompts arrive with the base model's chat template applied; the dashboard shows the conversation instead.

export interface TChatMessage {
  role: string;
  content: string;
}

const CHATML = /<\|im_start\|>\s*(\w+)\s*\n([\s\S]*?)(?:<\|im_end\|>|$)/g;
const LLAMA3 = /<\|start_header_id\|>\s*(\w+)\s*<\|end_header_id\|>\s*\n?([\s\S]*?)(?:<\|eot_id\|>|$)/g;
const LLAMA2 = /\[INST\]([\s\S]*?)\[\/INST\]([\s\S]*?)(?=<s>|\[INST\]|$)/g;
const SPECIAL = /<\|[a-z_]+\|>|<\/?s>/gi;

function collect(text: string, pattern: RegExp): TChatMessage[] {
  const out: TChatMessage[] = [];
  for (const m of text.matchAll(pattern)) {
    const content = m[2]!.replace(SPECIAL, "").trim();
    // The open assistant turn at the end is where generation starts: nothing to show.
    if (content || m[1] !== "assistant") out.push({ role: m[1]!.toLowerCase(), content });
  }
  return out;
}

/** The messages of a templated prompt (ChatML, Llama 3, Llama 2 [INST]); null when the text carries no template. */
export function parseChatPrompt(text: string): TChatMessage[] | null {
  if (text.includes("<|im_start|>")) return collect(text, CHATML).filter((m) => m.content);
  if (text.includes("<|start_header_id|>")) return collect(text, LLAMA3).filter((m) => m.content);
  if (text.includes("[INST]")) {
    const out: TChatMessage[] = [];
    for (const m of text.matchAll(LLAMA2)) {
      const user = m[1]!.replace(/<<SYS>>([\s\S]*?)<<\/SYS>>/, (_, sys: string) => {
        out.push({ role: "system", content: sys.trim() });
        return "";
      });
      out.push({ role: "user", content: user.replace(SPECIAL, "").trim() });
      const answer = m[2]!.replace(SPECIAL, "").trim();
      if (answer) out.push({ role: "assistant", content: answer });
    }
    return out.filter((m) => m.content);
  }
  return null;
}

/** Generated text without the template's special tokens (a trailing <|im_end|>, <|endoftext|>). */
export function stripSpecialTokens(text: string): string {
  return text.replace(SPECIAL, "").trim();
}

/**
 * Log lines as a terminal would have shown them: a progress bar redraws itself with carriage returns, so only the
 * text after a line's last \r remains.
 */
export function terminalLines(lines: string[]): string[] {
  return lines.map((line) => {
    if (!line.includes("\r")) return line;
    const parts = line.split("\r").filter((p) => p.trim() !== "");
    return parts[parts.length - 1] ?? "";
  });
}
