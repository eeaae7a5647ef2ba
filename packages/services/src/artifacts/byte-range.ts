// HTTP Range (RFC 9110 §14) for single-file downloads: one `bytes=` range is served as 206; several ranges, another
// unit or a malformed header are ignored (the whole file, 200), which the RFC allows; a range that starts at or past
// the end of the file is unsatisfiable (416).

export type TByteRange = { kind: "all" } | { kind: "range"; start: number; end: number } | { kind: "unsatisfiable" };

export function parseByteRange(header: string | null, size: number): TByteRange {
  if (!header) return { kind: "all" };
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!match) return { kind: "all" };
  const [, first, last] = match as unknown as [string, string, string];
  if (first === "" && last === "") return { kind: "all" };
  if (first === "") {
    // Suffix range: the last N bytes (all of them when N exceeds the size); `-0` asks for nothing.
    const suffix = Number(last);
    if (!Number.isSafeInteger(suffix) || suffix === 0 || size === 0) return { kind: "unsatisfiable" };
    return { kind: "range", start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  if (!Number.isSafeInteger(start) || start >= size) return { kind: "unsatisfiable" };
  const end = last === "" ? size - 1 : Number(last);
  if (!Number.isSafeInteger(end) && last !== "") return { kind: "range", start, end: size - 1 };
  if (end < start) return { kind: "all" };
  return { kind: "range", start, end: Math.min(end, size - 1) };
}
