import { HttpError } from "./errors.ts";

/**
 * Reads a request body as UTF-8 text, counting bytes as they arrive: a declared Content-Length over the limit is
 * refused before reading, and a body sent without one (chunked) is cut off — the stream cancelled — as soon as it
 * passes the limit, so an endless upload costs at most `maxBytes` of memory.
 */
export async function readBodyLimited(req: Request, maxBytes: number): Promise<string> {
  const tooLarge = () => new HttpError(413, "payload_too_large", `request body over ${maxBytes} bytes`);
  const declared = Number(req.headers.get("content-length") ?? "0");
  if (declared > maxBytes) throw tooLarge();
  if (!req.body) return "";
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel("request body over the limit").catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(value);
  }
  return new TextDecoder().decode(Buffer.concat(chunks));
}
