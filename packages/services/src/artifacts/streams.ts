// Response bodies for artifact downloads, pulled by the HTTP response: the next chunk is read from disk only when the
// client has taken the previous one, and a cancelled download closes the file (the generator's finally blocks run).
import { createReadStream } from "node:fs";
import { Readable } from "node:stream";
import { pipeline } from "node:stream";
import { createGzip } from "node:zlib";
import { tarFolder, type TArchiveManifest } from "./folder-archive.ts";

/** A Web stream over a Node readable, pulling one chunk per request and destroying the readable on cancel. */
export function pullStream(readable: Readable): ReadableStream<Uint8Array> {
  const iterator = readable[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const { value, done } = await iterator.next();
          if (done) controller.close();
          else controller.enqueue(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
        } catch (error) {
          controller.error(error);
        }
      },
      async cancel() {
        readable.destroy();
        await iterator.return?.();
      },
    },
    { highWaterMark: 0 },
  );
}

/**
 * `folder` as a gzip-compressed tar (see tarFolder). Level 1 by default: weights barely compress (100 MB of fp16
 * noise came out at 92% at level 1 and at level 6 alike), so a higher level only spends CPU.
 */
export function folderTarGzStream(
  folder: string,
  artifact: Record<string, unknown>,
  options: { level?: number; onManifest?: (m: TArchiveManifest) => void; onError?: (error: Error) => void } = {},
): ReadableStream<Uint8Array> {
  const tar = Readable.from(tarFolder(folder, artifact, options.onManifest), { objectMode: false, highWaterMark: 1 << 20 });
  const gzip = createGzip({ level: options.level ?? 1 });
  pipeline(tar, gzip, (error) => {
    if (error && error.name !== "AbortError" && (error as NodeJS.ErrnoException).code !== "ERR_STREAM_PREMATURE_CLOSE") options.onError?.(error);
  });
  return pullStream(gzip);
}

/** Bytes `start`..`end` (inclusive) of a file. */
export function fileRangeStream(file: string, start: number, end: number): ReadableStream<Uint8Array> {
  return pullStream(createReadStream(file, { start, end, highWaterMark: 1 << 20 }));
}
