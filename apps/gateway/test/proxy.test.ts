import { describe, expect, it } from "vitest";
import { CONTENT, countField, TEXT } from "../src/proxy.ts";

describe("countField", () => {
  it("counts non-empty content and text fields in a streamed chunk", () => {
    const chunk = Buffer.from('data: {"choices":[{"delta":{"content":"a"}}]}\n\ndata: {"choices":[{"delta":{"content":""}}]}\n\ndata: {"choices":[{"delta":{"content":"b c"}}]}\n\n');
    expect(countField(chunk, CONTENT)).toBe(2);
    expect(countField(Buffer.from('data: {"choices":[{"text":"x"},{"text":""}]}\n\n'), TEXT)).toBe(1);
    expect(countField(Buffer.from("data: [DONE]\n\n"), CONTENT)).toBe(0);
  });
});
