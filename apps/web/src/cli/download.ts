// `loraplane artifact download <runId> <name>`: picks one of a run's artifacts by id, file/folder name or kind, and
// streams it to disk (a folder arrives as .tar.gz with MANIFEST.sha256 inside). The bytes go to `<file>.part` and are
// renamed only when complete (and, for a file with a registered sha256, only when it matches), so an interrupted or
// corrupted download never leaves a file that looks finished.
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { access, rename, rm } from "node:fs/promises";
import path from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as TWebStream } from "node:stream/web";
import { apiDownload, CliError, EXIT, type TApi } from "./api-client.ts";

type TListedArtifact = { id: string; kind: string; uri: string; sha256: string | null; downloadable: boolean; archive: boolean };

const baseName = (uri: string) => {
  try {
    return path.posix.basename(decodeURIComponent(new URL(uri).pathname));
  } catch {
    return path.posix.basename(uri);
  }
};

/** By id, then by the file or folder name, then by kind (when the run has exactly one of that kind). */
export function pickArtifact(items: TListedArtifact[], name: string): TListedArtifact {
  const byId = items.find((a) => a.id === name);
  if (byId) return byId;
  for (const matches of [items.filter((a) => baseName(a.uri) === name), items.filter((a) => a.kind === name)]) {
    if (matches.length === 1) return matches[0]!;
    if (matches.length > 1) {
      throw new CliError(`several artifacts match "${name}"; use a name or id: ${matches.map((a) => `${baseName(a.uri)} (${a.id})`).join(", ")}`, EXIT.usage);
    }
  }
  const known = items.map((a) => `${baseName(a.uri)} [${a.kind}]`).join(", ") || "none";
  throw new CliError(`no artifact "${name}" in this run; there are: ${known}`, EXIT.usage);
}

/** The name the server suggested (Content-Disposition), reduced to a plain file name. */
function suggestedName(disposition: string | null, fallback: string): string {
  const quoted = /filename="([^"]*)"/.exec(disposition ?? "")?.[1];
  const name = path.basename(quoted ?? fallback).replace(/[^\w.-]+/g, "_");
  return name && !name.startsWith(".") ? name : "artifact";
}

export async function downloadArtifact(
  call: TApi,
  conn: { url: string; token?: string },
  runId: string,
  name: string,
  options: { output?: string; force?: boolean },
): Promise<{ file: string; bytes: number; sha256: string }> {
  const { items } = await call<{ items: TListedArtifact[] }>("GET", `/api/v1/runs/${encodeURIComponent(runId)}/artifacts`);
  const artifact = pickArtifact(items, name);
  if (!artifact.downloadable) {
    throw new CliError(`${baseName(artifact.uri)} cannot be downloaded from the control plane: ${artifact.uri.startsWith("file://") ? "it is missing on the data volume" : `it is stored at ${artifact.uri}`}`, EXIT.failed);
  }
  const res = await apiDownload(conn.url, conn.token, `/api/v1/artifacts/${artifact.id}/download`);
  const toStdout = options.output === "-";
  const file = toStdout ? "-" : path.resolve(options.output ?? suggestedName(res.headers.get("content-disposition"), artifact.archive ? `${baseName(artifact.uri)}.tar.gz` : baseName(artifact.uri)));
  if (!toStdout && !options.force && (await access(file).then(() => true, () => false))) {
    await res.body?.cancel();
    throw new CliError(`${file} exists; pass --force to overwrite it or -o to choose another file`, EXIT.usage);
  }
  const hash = createHash("sha256");
  let bytes = 0;
  const count = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  const partial = `${file}.part`;
  const body = res.body ? Readable.fromWeb(res.body as TWebStream<Uint8Array>) : Readable.from([]); // an empty file has no body
  try {
    await pipeline(body, count, toStdout ? process.stdout : createWriteStream(partial));
  } catch (error) {
    if (!toStdout) await rm(partial, { force: true });
    throw new CliError(`download of ${baseName(artifact.uri)} broke off after ${bytes} bytes: ${(error as Error).message}`, EXIT.failed);
  }
  const sha256 = hash.digest("hex");
  const expected = res.headers.get("x-checksum-sha256");
  if (expected && expected !== sha256) {
    if (!toStdout) await rm(partial, { force: true });
    throw new CliError(`${baseName(artifact.uri)}: sha256 ${sha256} does not match the registered ${expected}; nothing was saved`, EXIT.failed);
  }
  if (!toStdout) await rename(partial, file);
  return { file, bytes, sha256 };
}
