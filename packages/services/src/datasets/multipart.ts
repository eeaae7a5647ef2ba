// A streaming multipart/form-data reader (RFC 7578): parts are handed to a sink chunk by chunk, so an upload is never
// held in memory whole; only a delimiter's length of bytes is kept back between chunks.
import { ValidationError } from "../errors.ts";

export type TPartInfo = { name: string; filename: string | null; contentType: string | null };
export type TPartSink = { write(chunk: Buffer): Promise<void>; end(): Promise<void> };

const MAX_HEADER_BYTES = 16 * 1024;

/** The boundary of a `multipart/form-data; boundary=…` content type, or null. */
export function multipartBoundary(contentType: string | null): string | null {
  if (!contentType || !/^multipart\/form-data\s*;/i.test(contentType)) return null;
  const m = /;\s*boundary=(?:"([^"]{1,70})"|([^\s;]{1,70}))/i.exec(contentType);
  return m ? (m[1] ?? m[2]!) : null;
}

function parsePartHeaders(text: string): TPartInfo {
  const headers = new Map<string, string>();
  for (const line of text.split("\r\n")) {
    const i = line.indexOf(":");
    if (i > 0) headers.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
  }
  const disposition = headers.get("content-disposition") ?? "";
  const param = (key: string) => new RegExp(`;\\s*${key}="((?:[^"\\\\]|\\\\.)*)"`, "i").exec(disposition)?.[1]?.replace(/\\(.)/g, "$1") ?? null;
  if (!/^form-data\b/i.test(disposition)) throw new ValidationError("a multipart part has no Content-Disposition: form-data header", [{ path: "body", message: "not form-data" }]);
  return { name: param("name") ?? "", filename: param("filename"), contentType: headers.get("content-type") ?? null };
}

/**
 * Reads `body` as multipart/form-data with `boundary`, calling `onPart` for each part and streaming its bytes into the
 * sink it returns. Throws ValidationError on a malformed or truncated body.
 */
export async function readMultipart(body: AsyncIterable<Uint8Array>, boundary: string, onPart: (part: TPartInfo) => Promise<TPartSink>): Promise<void> {
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  const malformed = (why: string) => new ValidationError(`malformed multipart body: ${why}`, [{ path: "body", message: why }]);
  // The first delimiter has no CRLF in front of it; adding one lets one search find them all.
  let buf: Buffer = Buffer.from("\r\n");
  type TState = "preamble" | "after-delimiter" | "headers" | "body" | "done";
  let state = "preamble" as TState;
  let sink: TPartSink | null = null;

  const drain = async (): Promise<void> => {
    for (;;) {
      if (state === "done") return;
      if (state === "preamble") {
        const i = buf.indexOf(delimiter);
        if (i < 0) {
          buf = buf.subarray(Math.max(0, buf.length - delimiter.length));
          return;
        }
        buf = buf.subarray(i + delimiter.length);
        state = "after-delimiter";
      }
      if (state === "after-delimiter") {
        if (buf.length < 2) return;
        if (buf[0] === 0x2d && buf[1] === 0x2d) {
          state = "done";
          return;
        }
        if (buf[0] !== 0x0d || buf[1] !== 0x0a) throw malformed("expected CRLF after a boundary");
        buf = buf.subarray(2);
        state = "headers";
      }
      if (state === "headers") {
        const i = buf.indexOf("\r\n\r\n");
        if (i < 0) {
          if (buf.length > MAX_HEADER_BYTES) throw malformed("part headers too long");
          return;
        }
        const info = parsePartHeaders(buf.subarray(0, i).toString("utf8"));
        buf = buf.subarray(i + 4);
        sink = await onPart(info);
        state = "body";
      }
      if (state === "body") {
        const i = buf.indexOf(delimiter);
        if (i < 0) {
          // Keep back what could be the start of a delimiter split across chunks.
          const safe = buf.length - (delimiter.length - 1);
          if (safe > 0) {
            await sink!.write(buf.subarray(0, safe));
            buf = buf.subarray(safe);
          }
          return;
        }
        if (i > 0) await sink!.write(buf.subarray(0, i));
        await sink!.end();
        sink = null;
        buf = buf.subarray(i + delimiter.length);
        state = "after-delimiter";
      }
    }
  };

  for await (const chunk of body) {
    buf = buf.length ? Buffer.concat([buf, chunk]) : Buffer.from(chunk);
    await drain();
    if (state === "done") break;
  }
  if (state !== "done") throw malformed("the body ended before the closing boundary");
}
