// Version checks run before anything is started, so a newcomer learns about a wrong Node or Python first, not from a
// stack trace three child processes later.
import { spawnSync } from "node:child_process";

export interface Version {
  major: number;
  minor: number;
  patch: number;
}

export function parseVersion(text: string): Version | null {
  const match = /(\d+)\.(\d+)(?:\.(\d+))?/.exec(text);
  if (!match) return null;
  return { major: Number(match[1]), minor: Number(match[2]), patch: Number(match[3] ?? 0) };
}

export function atLeast(version: Version, minimum: Version): boolean {
  if (version.major !== minimum.major) return version.major > minimum.major;
  if (version.minor !== minimum.minor) return version.minor > minimum.minor;
  return version.patch >= minimum.patch;
}

export const MIN_NODE: Version = { major: 20, minor: 19, patch: 0 };
// gpu-runtime's wheels (torch, transformers) are pinned for CPython 3.11.
export const PYTHON_MAJOR_MINOR = "3.11";

export function checkNode(versionText = process.versions.node): string | null {
  const version = parseVersion(versionText);
  if (version && atLeast(version, MIN_NODE)) return null;
  return `Node.js ${versionText} is too old: install Node.js >= 20.19 (https://nodejs.org or your distribution's nodejs package).`;
}

/** Finds a Python 3.11 interpreter; returns its command or an error message naming what to install. */
export function findPython(candidates = ["python3.11", "python3"]): { command: string } | { error: string } {
  const seen: string[] = [];
  for (const command of candidates) {
    const result = spawnSync(command, ["--version"], { encoding: "utf8" });
    if (result.error || result.status !== 0) continue;
    const text = `${result.stdout}${result.stderr}`.trim();
    seen.push(`${command}: ${text}`);
    const version = parseVersion(text);
    if (version && `${version.major}.${version.minor}` === PYTHON_MAJOR_MINOR) return { command };
  }
  const found = seen.length ? ` (found ${seen.join(", ")})` : " (no python3 on PATH)";
  return { error: `Python ${PYTHON_MAJOR_MINOR} is required for gpu-runtime${found}: install python3.11 and python3.11-venv.` };
}
