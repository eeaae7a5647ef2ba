// A folder artifact (LoRA adapter, checkpoint) as a streamed tar: entries relative to the folder, in a stable order,
// each file read once — its sha256 is computed from the very bytes that go into the archive, so the manifest comes
// last (MANIFEST.sha256 for `sha256sum -c`, archive-manifest.json with sizes and what was left out and why). A first
// hashing pass would read multi-GB checkpoints twice and could still disagree with what the second pass sent.
// Nothing is buffered beyond one read chunk; closing the generator (a cancelled download) closes the open file.
//
// The folder is untrusted (a workload wrote it): symlinks are followed only to a file inside the folder (archived
// under the link's name), never out of it or to a folder; fifos, sockets and devices are skipped; each opened file is
// checked again after open (O_NOFOLLOW and the descriptor's real path) so a swap between check and open is refused.
import { createHash } from "node:crypto";
import { constants } from "node:fs";
import { lstat, open, readdir, readlink, realpath, stat, type FileHandle } from "node:fs/promises";
import path from "node:path";
import { padding, tarEnd, tarHeader } from "./tar.ts";

export const ARCHIVE_MANIFEST_SHA256 = "MANIFEST.sha256";
export const ARCHIVE_MANIFEST_JSON = "archive-manifest.json";
const RESERVED = new Set([ARCHIVE_MANIFEST_SHA256.toLowerCase(), ARCHIVE_MANIFEST_JSON.toLowerCase()]);
const CHUNK = 1 << 20;

export interface TArchivedFile {
  path: string;
  size: number;
  sha256: string;
}
export interface TSkippedEntry {
  path: string;
  reason: string;
}
export interface TArchiveManifest {
  format: "loraplane-artifact-archive/1";
  artifact: Record<string, unknown>;
  files: TArchivedFile[];
  skipped: TSkippedEntry[];
  totalBytes: number;
}

const inside = (root: string, p: string) => p === root || p.startsWith(`${root}${path.sep}`);

/** Where an open descriptor really points (Linux); null where /proc is not available. */
async function descriptorPath(handle: FileHandle): Promise<string | null> {
  try {
    return await readlink(`/proc/self/fd/${handle.fd}`);
  } catch {
    return null;
  }
}

/** `sha256sum` line; names with a backslash or newline are escaped the way GNU coreutils does. */
function sha256sumLine(f: TArchivedFile): string {
  if (!/[\\\n]/.test(f.path)) return `${f.sha256}  ${f.path}\n`;
  return `\\${f.sha256}  ${f.path.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}\n`;
}

/**
 * The tar bytes of `folder` (a canonical path: realpath, already checked to be the artifact's own). `artifact` is
 * copied into archive-manifest.json (id, kind, run, registered digest). `onManifest` receives the manifest at the end.
 */
export async function* tarFolder(folder: string, artifact: Record<string, unknown> = {}, onManifest?: (m: TArchiveManifest) => void): AsyncGenerator<Buffer> {
  const root = await realpath(folder);
  const files: TArchivedFile[] = [];
  const skipped: TSkippedEntry[] = [];

  async function* archiveFile(rel: string, source: string): AsyncGenerator<Buffer> {
    let handle: FileHandle;
    try {
      handle = await open(source, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (error) {
      skipped.push({ path: rel, reason: `cannot be opened (${(error as NodeJS.ErrnoException).code ?? "error"})` });
      return;
    }
    try {
      const info = await handle.stat();
      const real = await descriptorPath(handle);
      if (!info.isFile()) {
        skipped.push({ path: rel, reason: "changed into something other than a regular file while archiving" });
        return;
      }
      if (real !== null && !inside(root, real)) {
        skipped.push({ path: rel, reason: "resolves outside the artifact folder (changed while archiving)" });
        return;
      }
      const size = info.size;
      yield tarHeader({ name: rel, type: "file", size, mode: info.mode & 0o111 ? 0o755 : 0o644, mtime: info.mtime });
      const hash = createHash("sha256");
      let position = 0;
      while (position < size) {
        const buffer = Buffer.allocUnsafe(Math.min(CHUNK, size - position));
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
        // The header already promised `size` bytes: a file cut short mid-download cannot be archived honestly.
        if (bytesRead === 0) throw new Error(`${rel} shrank while it was being archived`);
        const chunk = bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead);
        hash.update(chunk);
        position += bytesRead;
        yield chunk;
      }
      yield padding(size);
      files.push({ path: rel, size, sha256: hash.digest("hex") });
    } finally {
      await handle.close();
    }
  }

  async function* walk(relDir: string): AsyncGenerator<Buffer> {
    const names = (await readdir(path.join(root, relDir))).sort();
    for (const name of names) {
      const rel = relDir ? `${relDir}/${name}` : name;
      const abs = path.join(root, rel);
      if (!relDir && RESERVED.has(name.toLowerCase())) {
        skipped.push({ path: rel, reason: "the name is reserved for the archive's own manifest" });
        continue;
      }
      const info = await lstat(abs).catch(() => null);
      if (!info) {
        skipped.push({ path: rel, reason: "disappeared while archiving" });
      } else if (info.isDirectory()) {
        yield tarHeader({ name: `${rel}/`, type: "directory", size: 0, mode: 0o755, mtime: info.mtime });
        yield* walk(rel);
      } else if (info.isFile()) {
        yield* archiveFile(rel, abs);
      } else if (info.isSymbolicLink()) {
        const target = await realpath(abs).catch(() => null);
        if (target === null) skipped.push({ path: rel, reason: "symlink to nothing (dangling)" });
        else if (!inside(root, target)) skipped.push({ path: rel, reason: "symlink leads outside the artifact folder (not followed)" });
        else if ((await stat(target).catch(() => null))?.isFile()) yield* archiveFile(rel, target);
        else skipped.push({ path: rel, reason: "symlink to a folder (not followed; its files are archived under their own path)" });
      } else {
        skipped.push({ path: rel, reason: "not a regular file or folder (fifo, socket or device)" });
      }
    }
  }

  yield* walk("");
  const manifest: TArchiveManifest = {
    format: "loraplane-artifact-archive/1",
    artifact,
    files,
    skipped,
    totalBytes: files.reduce((sum, f) => sum + f.size, 0),
  };
  const now = new Date();
  for (const [name, text] of [
    [ARCHIVE_MANIFEST_SHA256, files.map(sha256sumLine).join("")],
    [ARCHIVE_MANIFEST_JSON, `${JSON.stringify(manifest, null, 2)}\n`],
  ] as const) {
    const data = Buffer.from(text, "utf8");
    yield tarHeader({ name, type: "file", size: data.length, mode: 0o644, mtime: now });
    yield data;
    yield padding(data.length);
  }
  yield tarEnd();
  onManifest?.(manifest);
}
