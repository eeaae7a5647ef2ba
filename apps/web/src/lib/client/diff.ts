// A line diff (longest common subsequence) for showing what changed between two versions of a spec.

export interface TDiffLine {
  kind: "same" | "added" | "removed";
  text: string;
  /** Line number in the old text (same, removed) or the new text (added). */
  line: number;
}

export function diffLines(before: string, after: string): TDiffLine[] {
  const a = before.replace(/\n$/, "").split("\n");
  const b = after.replace(/\n$/, "").split("\n");
  const n = a.length;
  const m = b.length;
  // lcs[i][j]: length of the LCS of a[i..] and b[j..]; specs are hundreds of lines, so O(n·m) is fine.
  const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const out: TDiffLine[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      out.push({ kind: "same", text: a[i]!, line: i + 1 });
      i++;
      j++;
    } else if (j < m && (i >= n || lcs[i]![j + 1]! > lcs[i + 1]![j]!)) {
      out.push({ kind: "added", text: b[j]!, line: j + 1 });
      j++;
    } else {
      out.push({ kind: "removed", text: a[i]!, line: i + 1 });
      i++;
    }
  }
  return out;
}
