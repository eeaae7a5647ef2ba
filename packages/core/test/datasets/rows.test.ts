import { describe, expect, it } from "vitest";
import { approxTokens, detectRowFormat, lengthHistogram, rowProblem, rowText } from "../../src/datasets/rows.ts";

describe("dataset rows", () => {
  it("detects Alpaca and chat rows the way gpu-runtime does", () => {
    expect(detectRowFormat({ instruction: "a", output: "b" })).toBe("alpaca");
    expect(detectRowFormat({ messages: [] })).toBe("chat");
    expect(detectRowFormat({ prompt: "a", completion: "b" })).toBeNull();
  });

  it("names what a row lacks", () => {
    expect(rowProblem({ instruction: "a", output: 3 }, "alpaca")).toMatch(/string "output"/);
    expect(rowProblem({ instruction: "a", output: "b", input: 1 }, "alpaca")).toMatch(/input/);
    expect(rowProblem({ messages: [{ role: "user", content: "hi" }] }, "chat")).toMatch(/last message/);
    expect(rowProblem({ messages: [{ role: "user" }] }, "chat")).toMatch(/role.*content/);
    expect(rowProblem({ messages: [{ role: "user", content: "q" }, { role: "assistant", content: "a" }] }, "chat")).toBeNull();
  });

  it("approximates tokens as chars/4 with one per CJK character", () => {
    expect(approxTokens("")).toBe(0);
    expect(approxTokens("abcd")).toBe(1);
    expect(approxTokens("abcde")).toBe(2);
    expect(approxTokens("日本語")).toBe(3);
    expect(approxTokens("日本語 abc")).toBe(4);
    expect(rowText({ instruction: "i", input: "", output: "o" }, "alpaca")).toBe("i\no");
  });

  it("bins lengths into round-width bins that hold every value", () => {
    const h = lengthHistogram([0, 1, 5, 9, 10, 99, 100]);
    expect(h.counts.reduce((a, b) => a + b, 0)).toBe(7);
    expect(h.edges.length).toBe(h.counts.length + 1);
    expect(h.edges[1]! - h.edges[0]!).toBe(10);
    expect(h.edges.at(-1)!).toBeGreaterThan(100);
    expect(h.max).toBe(100);
    expect(h.p50).toBe(9);
    expect(lengthHistogram([]).counts).toEqual([]);
    expect(lengthHistogram([3, 3, 3]).counts.reduce((a, b) => a + b, 0)).toBe(3);
  });
});
