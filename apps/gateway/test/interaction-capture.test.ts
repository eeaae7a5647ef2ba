import { describe, expect, it } from "vitest";
import { answerText, boundedPrompt, streamedText } from "../src/interaction-capture.ts";

describe("what a captured interaction stores", () => {
  it("assembles a stream's text from chat deltas or completion text, first choice only, whatever the chunking", () => {
    const events = [
      { choices: [{ index: 0, delta: { role: "assistant" } }] },
      { choices: [{ index: 0, delta: { content: "Hel" } }, { index: 1, delta: { content: "other" } }] },
      { choices: [{ index: 0, delta: { content: "lo, 世界" } }] },
      { choices: [{ index: 0, text: "!" }] },
    ];
    const raw = `${events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join("")}data: [DONE]\n\n`;
    expect(streamedText(raw)).toBe("Hello, 世界!");
    // An event cut off by the capture bound adds nothing rather than failing the capture.
    expect(streamedText(raw.slice(0, raw.indexOf("lo, 世界") + 3))).toBe("Hel");
  });

  it("reads the answer of a JSON response", () => {
    expect(answerText({ choices: [{ message: { role: "assistant", content: "four" } }] })).toBe("four");
    expect(answerText({ choices: [{ text: "4" }] })).toBe("4");
    expect(answerText({ error: "x" })).toBe("");
  });

  it("bounds the prompt by keeping the newest messages and cutting one oversized message", () => {
    const messages = [
      { role: "system", content: "s".repeat(300) },
      { role: "user", content: "u".repeat(300) },
      { role: "user", content: "last" },
    ];
    expect(boundedPrompt({ messages }, 10_000)).toEqual({ prompt: { messages }, truncated: false });
    const cut = boundedPrompt({ messages }, 400);
    expect(cut.truncated).toBe(true);
    expect((cut.prompt as { messages: unknown[] }).messages).toEqual([{ role: "user", content: "u".repeat(300) }, { role: "user", content: "last" }]);
    const huge = boundedPrompt({ messages: [{ role: "user", content: "x".repeat(5000) }] }, 1000);
    expect(huge.truncated).toBe(true);
    expect(JSON.stringify(huge.prompt).length).toBeLessThanOrEqual(1000);
    expect(boundedPrompt({ prompt: "2+2=" }, 100)).toEqual({ prompt: { prompt: "2+2=" }, truncated: false });
    expect(boundedPrompt({ prompt: "y".repeat(200) }, 100)).toEqual({ prompt: { prompt: "y".repeat(100) }, truncated: true });
  });
});
