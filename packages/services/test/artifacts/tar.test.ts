// The tar writer's output read back by Python's tarfile (an independent reader): long and non-ASCII names through
// pax headers, pax record lengths at the digit boundary, sizes past ustar's 8 GiB limit, valid checksums.
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { padding, TAR_BLOCK, tarEnd, tarHeader } from "../../src/artifacts/tar.ts";

const mtime = new Date("2026-11-30T12:00:00Z");

function readWithPython(archive: Buffer): { name: string; size: number; type: string; data: string }[] {
  const script = [
    "import io, json, sys, tarfile",
    "t = tarfile.open(fileobj=io.BytesIO(sys.stdin.buffer.read()), mode='r:')",
    "print(json.dumps([{'name': m.name, 'size': m.size, 'type': 'dir' if m.isdir() else 'file', 'data': (t.extractfile(m).read().decode() if m.isfile() else '')} for m in t.getmembers()]))",
  ].join("\n");
  return JSON.parse(execFileSync("python3", ["-c", script], { input: archive, encoding: "utf8" }));
}

function file(name: string, text: string): Buffer {
  const data = Buffer.from(text);
  return Buffer.concat([tarHeader({ name, type: "file", size: data.length, mode: 0o644, mtime }), data, padding(data.length)]);
}

describe("tar writer", () => {
  it("writes ustar and pax entries that an independent reader extracts", () => {
    // Names around the 100-byte ustar limit, and non-ASCII names (always pax) whose record length crosses from two
    // to three digits (a record of 98 bytes plus its length's digits is 101 bytes long).
    const names = ["a.txt", "x".repeat(100), "y".repeat(101), "ü-non-ascii.json", `${"dir/".repeat(40)}deep.bin`];
    for (let n = 85; n < 96; n++) names.push(`é${"w".repeat(n)}`);
    const archive = Buffer.concat([
      tarHeader({ name: "folder/", type: "directory", size: 0, mode: 0o755, mtime }),
      ...names.map((n, i) => file(n, `content ${i}`)),
      tarEnd(),
    ]);
    expect(archive.length % TAR_BLOCK).toBe(0);
    const read = readWithPython(archive);
    expect(read[0]).toMatchObject({ name: "folder", type: "dir" });
    expect(read.slice(1)).toEqual(names.map((name, i) => ({ name, size: `content ${i}`.length, type: "file", data: `content ${i}` })));
  });

  it("carries a size past 8 GiB in a pax record", () => {
    const size = 9 * 1024 ** 3 + 5;
    const header = tarHeader({ name: "huge.bin", type: "file", size, mode: 0o644, mtime });
    expect(header.length).toBe(3 * TAR_BLOCK);
    expect(header.subarray(TAR_BLOCK, 2 * TAR_BLOCK).toString("utf8")).toContain(` size=${size}\n`);
    const script = "import sys, tarfile; print(tarfile.TarInfo.frombuf(sys.stdin.buffer.read()[1024:1536], 'utf-8', 'strict').chksum)";
    expect(Number(execFileSync("python3", ["-c", script], { input: header, encoding: "utf8" }))).toBeGreaterThan(0);
  });
});
