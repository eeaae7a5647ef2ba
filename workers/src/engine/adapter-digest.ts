// The digest of a directory artifact as gpu-runtime defines it (loraplane_runtime/modeling.py dir_digest): sha256 of
// the directory's manifest.json, which lists every other file with its sha256 and size. Measuring means checking
// every listed file against the manifest and refusing any file the manifest does not list, so a digest that matches
// covers every byte a loader could read from the directory.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { lstat, readdir, readFile } from "node:fs/promises";
import path from "node:path";

export type TDigestMeasurement = { ok: true; sha256: string } | { ok: false; reason: string };

const sha256File = (file: string) =>
  new Promise<string>((resolve, reject) => {
    const h = createHash("sha256");
    createReadStream(file).on("data", (c) => h.update(c)).on("error", reject).on("end", () => resolve(h.digest("hex")));
  });

async function listFiles(root: string, rel = ""): Promise<string[] | string> {
  const out: string[] = [];
  for (const entry of await readdir(path.join(root, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory()) {
      const sub = await listFiles(root, r);
      if (typeof sub === "string") return sub;
      out.push(...sub);
    } else if (entry.isFile()) out.push(r);
    else return `${r} is neither a file nor a directory (symlinks are refused)`;
  }
  return out;
}

export async function measureDirectoryDigest(dir: string): Promise<TDigestMeasurement> {
  const info = await lstat(dir).catch(() => null);
  if (!info?.isDirectory()) return { ok: false, reason: `${dir} is not a directory` };
  const manifestPath = path.join(dir, "manifest.json");
  let manifestText: Buffer;
  try {
    manifestText = await readFile(manifestPath);
  } catch {
    return { ok: false, reason: `${dir} has no manifest.json` };
  }
  let manifest: { files?: { path?: unknown; sha256?: unknown; size?: unknown }[] };
  try {
    manifest = JSON.parse(manifestText.toString("utf8")) as typeof manifest;
  } catch {
    return { ok: false, reason: `${manifestPath} is not valid JSON` };
  }
  if (!Array.isArray(manifest.files)) return { ok: false, reason: `${manifestPath} lists no files` };
  const listed = new Map<string, { sha256: string; size: number }>();
  for (const f of manifest.files) {
    const rel = typeof f.path === "string" ? path.posix.normalize(f.path) : "";
    if (!rel || rel.startsWith("..") || path.posix.isAbsolute(rel) || rel === "manifest.json" || typeof f.sha256 !== "string" || typeof f.size !== "number") {
      return { ok: false, reason: `${manifestPath} has an invalid entry ${JSON.stringify(f.path)}` };
    }
    listed.set(rel, { sha256: f.sha256, size: f.size });
  }
  const present = await listFiles(dir);
  if (typeof present === "string") return { ok: false, reason: `${dir}: ${present}` };
  for (const rel of present) {
    if (rel !== "manifest.json" && !listed.has(rel)) return { ok: false, reason: `${dir}/${rel} is not listed in manifest.json` };
  }
  for (const [rel, want] of listed) {
    const file = path.join(dir, rel);
    const st = await lstat(file).catch(() => null);
    if (!st?.isFile()) return { ok: false, reason: `${file} (listed in manifest.json) is missing` };
    const got = await sha256File(file);
    if (got !== want.sha256 || st.size !== want.size) return { ok: false, reason: `${file} does not match manifest.json (sha256 ${got}, expected ${want.sha256})` };
  }
  return { ok: true, sha256: createHash("sha256").update(manifestText).digest("hex") };
}
