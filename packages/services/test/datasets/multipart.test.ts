import { describe, expect, it } from "vitest";
import { multipartBoundary, readMultipart } from "../../src/datasets/multipart.ts";

async function encode(files: Record<string, string>) {
  const form = new FormData();
  form.append("note", "a plain field");
  for (const [name, text] of Object.entries(files)) form.append("files", new Blob([text]), name);
  const req = new Request("http://x/", { method: "POST", body: form });
  return { bytes: Buffer.from(await req.arrayBuffer()), boundary: multipartBoundary(req.headers.get("content-type"))! };
}

async function* chunks(bytes: Buffer, size: number) {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function parse(bytes: Buffer, boundary: string, size: number) {
  const got: Record<string, string> = {};
  await readMultipart(chunks(bytes, size), boundary, async (part) => {
    const parts: Buffer[] = [];
    return {
      write: async (c) => void parts.push(Buffer.from(c)),
      end: async () => void (got[part.filename ?? `field:${part.name}`] = Buffer.concat(parts).toString("utf8")),
    };
  });
  return got;
}

describe("readMultipart", () => {
  it("reassembles parts whatever the chunking, a delimiter split across chunks included", async () => {
    // A body line that looks like the start of a delimiter must stay data.
    const files = { "train.jsonl": '{"a":1}\r\n--not-the-boundary\r\n{"b":"ü"}\n', "test.jsonl": "" };
    const { bytes, boundary } = await encode(files);
    for (const size of [1, 2, 3, 7, 64, 1 << 20]) {
      expect(await parse(bytes, boundary, size)).toEqual({ "field:note": "a plain field", ...files });
    }
  });

  it("refuses a truncated body", async () => {
    const { bytes, boundary } = await encode({ "train.jsonl": "{}\n" });
    await expect(parse(bytes.subarray(0, bytes.length - 10), boundary, 5)).rejects.toThrow(/ended before the closing boundary/);
  });

  it("reads the boundary only from multipart/form-data", () => {
    expect(multipartBoundary('multipart/form-data; boundary="abc def"')).toBe("abc def");
    expect(multipartBoundary("multipart/form-data; boundary=----x1")).toBe("----x1");
    expect(multipartBoundary("application/json")).toBeNull();
    expect(multipartBoundary(null)).toBeNull();
  });
});
