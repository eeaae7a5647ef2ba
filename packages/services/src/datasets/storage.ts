// Where a project's datasets may live, and what a dataset version's digest is.
//
// Storage prefix: a dataset version's URI must be a file:// URI under `<root>/projects/<projectId>/datasets/`, where
// root is LORAPLANE_DATA_DIR (local executor; the web process and the workers share it) or /data (the data volume as
// Kubernetes Jobs see it; the Job mounts only its project's `projects/<projectId>/datasets` sub-path there). The URI
// is checked lexically at registration (no `..` or `.` segments, no percent-encoded dots, slashes, backslashes or NULs,
// no host) and, where the files are visible, after realpath: a symlink that leaves the prefix is refused. The prepare
// stage checks again after realpath right before the workload reads the files (a symlink swapped in later is caught
// there) and verifies the digest.
//
// Digest: a dataset version is a directory of `<split>.jsonl` files. Its sha256 is the sha256 of the concatenated
// lower-case hex sha256 of each split file, in the order train, validation, test, then any other split by name —
// what gpu-runtime's make-demo-data writes into dataset.json.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { lstat, readdir, realpath } from "node:fs/promises";
import path from "node:path";

/** The data volume's mount point in Kubernetes Jobs (workers/src/executors/kubernetes/manifests.ts MOUNTS.data). */
export const KUBERNETES_DATA_ROOT = "/data";

/** The roots a dataset URI may start with, for a process whose LORAPLANE_DATA_DIR is `dataDir`. */
export function datasetRoots(dataDir: string): string[] {
  return [path.resolve(dataDir), KUBERNETES_DATA_ROOT];
}

/** `<root>/projects/<projectId>/datasets` (no trailing slash). */
export function projectDatasetPrefix(root: string, projectId: string): string {
  return path.posix.join(root, "projects", projectId, "datasets");
}

export type TDatasetPath = { ok: true; path: string; root: string; prefix: string } | { ok: false; reason: string };

/** Lexical check of a dataset URI against the project's prefixes; nothing is read from disk. */
export function datasetPathOf(uri: string, projectId: string, roots: readonly string[]): TDatasetPath {
  const allowed = roots.map((r) => `file://${projectDatasetPrefix(r, projectId)}/`).join(" or ");
  if (!uri.startsWith("file://")) return { ok: false, reason: `must be a file:// URI under ${allowed}` };
  if (/%(2e|2f|5c|00)/i.test(uri)) return { ok: false, reason: "must not contain percent-encoded dots, slashes, backslashes or NUL" };
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return { ok: false, reason: "is not a valid URI" };
  }
  if (url.host !== "") return { ok: false, reason: "must not name a host (file:///path)" };
  if (url.search || url.hash) return { ok: false, reason: "must not have a query or fragment" };
  // URL parsing already folds "/a/../b"; look at the raw text so such a URI is refused rather than rewritten.
  const rawPath = uri.slice("file://".length);
  if (rawPath.split("/").some((seg) => seg === ".." || seg === ".")) return { ok: false, reason: "must not contain . or .. segments" };
  let decoded: string;
  try {
    decoded = decodeURIComponent(url.pathname);
  } catch {
    return { ok: false, reason: "is not valid percent-encoding" };
  }
  if (decoded.includes("\\") || decoded.includes("\0")) return { ok: false, reason: "must not contain backslashes or NUL" };
  const normal = path.posix.normalize(decoded).replace(/\/+$/, "");
  for (const root of roots) {
    const prefix = projectDatasetPrefix(root, projectId);
    if (normal.startsWith(`${prefix}/`)) return { ok: true, path: normal, root, prefix };
  }
  return { ok: false, reason: `must be under ${allowed} (this project's storage prefix)` };
}

/** realpath of `target` when it exists; whether it stays inside realpath(prefix). */
export async function resolveInsidePrefix(target: string, prefix: string): Promise<{ ok: true; realPath: string } | { ok: false; reason: string; missing?: boolean }> {
  let real: string;
  try {
    real = await realpath(target);
  } catch {
    return { ok: false, reason: `${target} does not exist`, missing: true };
  }
  let realPrefix: string;
  try {
    realPrefix = await realpath(prefix);
  } catch {
    return { ok: false, reason: `the storage prefix ${prefix} does not exist`, missing: true };
  }
  if (!real.startsWith(`${realPrefix}${path.sep}`)) return { ok: false, reason: `${target} resolves to ${real}, outside the project's storage prefix ${prefix}` };
  return { ok: true, realPath: real };
}

const SPLIT_ORDER = ["train", "validation", "test"];

/** Split names in digest order: train, validation, test, then the others by name. */
export function orderSplits(names: readonly string[]): string[] {
  return [...SPLIT_ORDER.filter((s) => names.includes(s)), ...names.filter((s) => !SPLIT_ORDER.includes(s)).sort()];
}

/** The dataset digest from each split file's sha256 (hex). */
export function combineSplitDigests(splits: Readonly<Record<string, string>>): string {
  return createHash("sha256").update(orderSplits(Object.keys(splits)).map((n) => splits[n]).join("")).digest("hex");
}

const sha256File = (file: string) =>
  new Promise<string>((resolve, reject) => {
    const h = createHash("sha256");
    createReadStream(file).on("data", (c) => h.update(c)).on("error", reject).on("end", () => resolve(h.digest("hex")));
  });

/** The dataset digest (see the top of this file) of a directory; symlinked or non-regular split files are refused. */
export async function measureDatasetDigest(dir: string): Promise<{ ok: true; sha256: string; splits: Record<string, string> } | { ok: false; reason: string }> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => null);
  if (!entries) return { ok: false, reason: `${dir} is not a readable directory` };
  const names = entries.filter((e) => e.name.endsWith(".jsonl")).map((e) => e.name.slice(0, -".jsonl".length));
  for (const e of entries.filter((x) => x.name.endsWith(".jsonl"))) {
    const st = await lstat(path.join(dir, e.name));
    if (!st.isFile()) return { ok: false, reason: `${path.join(dir, e.name)} is not a regular file (symlinks are refused)` };
  }
  if (names.length === 0) return { ok: false, reason: `${dir} has no <split>.jsonl files` };
  const splits: Record<string, string> = {};
  for (const name of orderSplits(names)) splits[name] = await sha256File(path.join(dir, `${name}.jsonl`));
  return { ok: true, sha256: combineSplitDigests(splits), splits };
}
