// Files the API serves for a run (stage logs, artifact downloads) come from URIs a workload reported, so they are
// untrusted: a file is served only when it lies in the run's own directory on the data volume,
// `<LORAPLANE_DATA_DIR>/runs/<runId>/` (the local executor's layout), after realpath. `..` and `.` segments,
// percent-encoded dots, slashes, backslashes and NULs, hosts, and symlinks that lead out of the run's directory (to
// another run, another project's datasets, or anywhere on the host) are refused.
import { realpath } from "node:fs/promises";
import path from "node:path";

export type TRunFile = { ok: true; path: string } | { ok: false; reason: string; missing?: boolean };

export async function resolveRunFile(dataDir: string, runId: string, uri: string): Promise<TRunFile> {
  if (!uri.startsWith("file://")) return { ok: false, reason: "not a file on the data volume" };
  if (/%(2e|2f|5c|00)/i.test(uri)) return { ok: false, reason: "percent-encoded dots, slashes, backslashes or NUL are refused" };
  if (uri.slice("file://".length).split("/").some((seg) => seg === ".." || seg === ".")) return { ok: false, reason: ". and .. segments are refused" };
  let file: string;
  try {
    const url = new URL(uri);
    if (url.host !== "" || url.search || url.hash) return { ok: false, reason: "a host, query or fragment is refused" };
    file = decodeURIComponent(url.pathname);
  } catch {
    return { ok: false, reason: "not a valid file URI" };
  }
  if (file.includes("\\") || file.includes("\0")) return { ok: false, reason: "backslashes and NUL are refused" };
  if (!/^[\w.-]+$/.test(runId)) return { ok: false, reason: "invalid run id" };
  let runDir: string;
  try {
    runDir = await realpath(path.join(path.resolve(dataDir), "runs", runId));
  } catch {
    return { ok: false, reason: "the run has no directory on the data volume", missing: true };
  }
  const lexicalRunDirs = [path.join(path.resolve(dataDir), "runs", runId), runDir];
  if (!lexicalRunDirs.some((d) => path.normalize(file).startsWith(`${d}${path.sep}`))) return { ok: false, reason: "outside the run's directory on the data volume" };
  let real: string;
  try {
    real = await realpath(file);
  } catch {
    return { ok: false, reason: "missing on the data volume", missing: true };
  }
  if (!real.startsWith(`${runDir}${path.sep}`)) return { ok: false, reason: "resolves outside the run's directory on the data volume" };
  return { ok: true, path: real };
}
