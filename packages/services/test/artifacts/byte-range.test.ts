import { describe, expect, it } from "vitest";
import { parseByteRange } from "../../src/artifacts/byte-range.ts";

describe("parseByteRange", () => {
  const size = 1000;
  it.each([
    [null, { kind: "all" }],
    ["bytes=0-99", { kind: "range", start: 0, end: 99 }],
    ["bytes=990-", { kind: "range", start: 990, end: 999 }],
    ["bytes=900-5000", { kind: "range", start: 900, end: 999 }],
    ["bytes=0-99999999999999999999999", { kind: "range", start: 0, end: 999 }],
    ["bytes=-100", { kind: "range", start: 900, end: 999 }],
    ["bytes=-5000", { kind: "range", start: 0, end: 999 }],
    ["BYTES = 5 - 9", { kind: "range", start: 5, end: 9 }],
    ["bytes=1000-", { kind: "unsatisfiable" }],
    ["bytes=1000-2000", { kind: "unsatisfiable" }],
    ["bytes=-0", { kind: "unsatisfiable" }],
    // Ignored (the whole file): several ranges, another unit, nonsense, a backwards range.
    ["bytes=0-1,5-6", { kind: "all" }],
    ["items=0-1", { kind: "all" }],
    ["bytes=abc", { kind: "all" }],
    ["bytes=-", { kind: "all" }],
    ["bytes=9-5", { kind: "all" }],
  ] as const)("%s", (header, expected) => {
    expect(parseByteRange(header, size)).toEqual(expected);
  });

  it("an empty file satisfies no range", () => {
    expect(parseByteRange("bytes=0-", 0)).toEqual({ kind: "unsatisfiable" });
    expect(parseByteRange("bytes=-1", 0)).toEqual({ kind: "unsatisfiable" });
    expect(parseByteRange(null, 0)).toEqual({ kind: "all" });
  });
});
