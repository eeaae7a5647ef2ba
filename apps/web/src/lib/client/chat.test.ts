import { describe, expect, it } from "vitest";
import { parseChatPrompt, stripSpecialTokens, terminalLines } from "./chat";

describe("chat prompts and terminal logs", () => {
  it("renders a ChatML prompt as messages, without control tokens", () => {
    const prompt = "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nReverse: abc<|im_end|>\n<|im_start|>assistant\n";
    expect(parseChatPrompt(prompt)).toEqual([
      { role: "system", content: "You are helpful." },
      { role: "user", content: "Reverse: abc" },
    ]);
  });

  it("renders Llama 3 and Llama 2 templates, and leaves plain text alone", () => {
    expect(parseChatPrompt("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")).toEqual([{ role: "user", content: "hi" }]);
    expect(parseChatPrompt("<s>[INST] <<SYS>>\nbe brief\n<</SYS>>\n\nhello [/INST]")).toEqual([
      { role: "system", content: "be brief" },
      { role: "user", content: "hello" },
    ]);
    expect(parseChatPrompt("Reverse: abc")).toBeNull();
    expect(stripSpecialTokens("cba<|im_end|>")).toBe("cba");
  });

  it("keeps only what a terminal shows of a progress bar redrawn with carriage returns", () => {
    expect(terminalLines(["loading", "\r  0%|  | 0/20\r 50%|█ | 10/20\r100%|██| 20/20", "done"])).toEqual(["loading", "100%|██| 20/20", "done"]);
  });
});
