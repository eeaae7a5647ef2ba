import { describe, expect, it } from "vitest";
import { completionTokens, CONTENT, countField, TEXT } from "../src/proxy.ts";

describe("countField", () => {
  it("counts non-empty content and text fields in a streamed chunk", () => {
    const chunk = Buffer.from('data: {"choices":[{"delta":{"content":"a"}}]}\n\ndata: {"choices":[{"delta":{"content":""}}]}\n\ndata: {"choices":[{"delta":{"content":"b c"}}]}\n\n');
    expect(countField(chunk, CONTENT)).toBe(2);
    expect(countField(Buffer.from('data: {"choices":[{"text":"x"},{"text":""}]}\n\n'), TEXT)).toBe(1);
    expect(countField(Buffer.from("data: [DONE]\n\n"), CONTENT)).toBe(0);
  });
});

describe("completionTokens", () => {
  it("reads the usage's completion tokens from the bytes of an answer or a streamed chunk", () => {
    expect(completionTokens(Buffer.from('{"usage":{"prompt_tokens":7,"completion_tokens":3,"total_tokens":10}}'))).toBe(3);
    expect(completionTokens(Buffer.from('data: {"usage": {"completion_tokens" :\n 1024}}\n\n'))).toBe(1024);
    expect(completionTokens(Buffer.from('{"choices":[{"message":{"content":"hi"}}]}'))).toBeNull();
    expect(completionTokens(Buffer.from('{"usage":{"completion_tokens":null}}'))).toBeNull();
    expect(completionTokens(Buffer.from('{"usage":{"completion_tokens":'))).toBeNull();
  });
});
