// gpu-runtime/scripts/setup-venv.sh on a first start (issue 17 item 16): pip's "Location … is ignored" warnings (one
// per package the extra index lacks, over a hundred lines) are dropped; every other line and pip's exit status pass.
// pip is a stand-in here (PYTHON points at a fake that creates a venv whose pip prints what the real one does).
import { execFile } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const SCRIPT = path.resolve(import.meta.dirname, "../../gpu-runtime/scripts/setup-venv.sh");
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function fixture(pipExit: number): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "lp-setup-venv-"));
  dirs.push(dir);
  mkdirSync(path.join(dir, "scripts"));
  copyFileSync(SCRIPT, path.join(dir, "scripts", "setup-venv.sh"));
  for (const f of ["requirements.txt", "requirements-dev.txt", "pyproject.toml"]) writeFileSync(path.join(dir, f), "x\n");
  const pip = [
    "#!/bin/sh",
    ...Array.from({ length: 60 }, (_, i) => `echo "WARNING: Location 'file:///opt/pypi-more/simple/pkg${i}/' is ignored: it is neither a file nor a directory." >&2`),
    'echo "WARNING: pip kept this warning" >&2',
    'echo "ERROR: a real problem" >&2',
    `exit ${pipExit}`,
  ].join("\n");
  const fakePython = ["#!/bin/sh", 'mkdir -p .venv/bin', `cat > .venv/bin/pip <<'PIP'\n${pip}\nPIP`, "chmod +x .venv/bin/pip", "printf '#!/bin/sh\\n' > .venv/bin/python", "chmod +x .venv/bin/python"].join("\n");
  writeFileSync(path.join(dir, "fake-python"), fakePython);
  chmodSync(path.join(dir, "fake-python"), 0o755);
  return dir;
}

function run(dir: string): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile("bash", [path.join(dir, "scripts", "setup-venv.sh")], { cwd: dir, env: { PATH: process.env.PATH, PYTHON: path.join(dir, "fake-python") } }, (error, _stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stderr }),
    );
  });
}

describe("setup-venv.sh", () => {
  it("drops pip's per-package 'Location … is ignored' warnings and keeps everything else", async () => {
    const { code, stderr } = await run(fixture(0));
    expect(code).toBe(0);
    expect(stderr).not.toContain("is ignored");
    expect(stderr).toContain("WARNING: pip kept this warning");
    expect(stderr).toContain("ERROR: a real problem");
    expect(stderr).toContain("gpu-runtime: venv ready");
  });

  it("still fails when pip fails", async () => {
    const { code, stderr } = await run(fixture(1));
    expect(code).not.toBe(0);
    expect(stderr).toContain("ERROR: a real problem");
    expect(stderr).not.toContain("venv ready");
  });
});
