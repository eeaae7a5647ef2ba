// Issue 11 finding 12: local workloads start with a minimal environment — PATH, HOME, LANG, the runtime's own
// variables and what the stage gives them (the run token) — never the worker's NEXTAUTH_SECRET, LORAPLANE_SECRET_KEY,
// DATABASE_URL or REDIS_URL; and the stage's variables are not visible in the process arguments (ps).
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { workloadEnvironment } from "@loraplane/config";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createLocalExecutor } from "../../src/executors/local.ts";
import type { TWorkloadSpec } from "../../src/executors/types.ts";

const SECRETS = {
  NEXTAUTH_SECRET: "nextauth-secret-value",
  LORAPLANE_SECRET_KEY: "secret-key-value",
  DATABASE_URL: "postgresql://user:dbpass@127.0.0.1:5432/loraplane",
  REDIS_URL: "redis://:redispass@127.0.0.1:6379",
  SMTP_PASSWORD: "smtp-password-value",
};
const saved: Record<string, string | undefined> = {};
beforeAll(() => {
  for (const [k, v] of Object.entries({ ...SECRETS, OMP_NUM_THREADS: "1", LANG: "C.UTF-8" })) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
});
afterAll(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

// Prints the workload's environment, then its wrapper's (the parent sh) command line.
const PRINT_ENV = ["/bin/sh", "-c", 'env; echo "--- cmdline"; tr "\\0" " " < /proc/$PPID/cmdline'];

it("a local workload sees only the minimal environment plus its stage variables", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "lp-env-"));
  // What src/main.ts configures: the minimal environment read from the worker's own at each launch.
  const ex = createLocalExecutor({ dataDir: dir, niceness: 0, baseEnv: () => workloadEnvironment(), command: () => PRINT_ENV });
  const spec = {
    runId: "envrun",
    stage: "train",
    attempt: 1,
    job: { paths: {} },
    command: "train",
    resources: { gpus: 0, cpu: "1", memory: "1Gi", nodeSelector: {}, tolerations: [], spot: false },
    env: { LORAPLANE_RUN_TOKEN: "lprt_stage-token", LORAPLANE_URL: "http://127.0.0.1:3000" },
  } as unknown as TWorkloadSpec;
  const handle = await ex.launch(spec);
  const runDir = path.join(dir, "runs", handle.externalId);
  for (let i = 0; i < 100 && !existsSync(path.join(runDir, "exit_code")); i++) await new Promise((r) => setTimeout(r, 50));
  const [envText = "", cmdline = ""] = readFileSync(path.join(runDir, "stdout.jsonl"), "utf8").split("--- cmdline");
  const env = Object.fromEntries(envText.trim().split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));

  for (const [name, value] of Object.entries(SECRETS)) {
    expect(env[name], name).toBeUndefined();
    expect(envText).not.toContain(value);
  }
  expect(env.PATH).toBe(process.env.PATH);
  expect(env.HOME).toBe(process.env.HOME);
  expect(env.LANG).toBe("C.UTF-8");
  expect(env.OMP_NUM_THREADS).toBe("1");
  expect(env.PYTHONUNBUFFERED).toBe("1");
  expect(env.LORAPLANE_RUN_TOKEN).toBe("lprt_stage-token");
  expect(env.LORAPLANE_URL).toBe("http://127.0.0.1:3000");
  // Nothing beyond the allowlist (sh itself adds PWD/SHLVL/_).
  const allowed = /^(PATH|HOME|LANG|LANGUAGE|LC_\w+|TZ|TMPDIR|USER|LOGNAME|PWD|OLDPWD|SHLVL|_|PYTHONUNBUFFERED|LORAPLANE_RUN_TOKEN|LORAPLANE_URL|OMP_\w+|MKL_\w+|OPENBLAS_\w+|CUDA_\w+|NVIDIA_\w+|NCCL_\w+|HF_\w+|TRANSFORMERS_\w+|TOKENIZERS_\w+|TORCH_\w+|PYTORCH_\w+|TRITON_\w+|LORAPLANE_RUNTIME_\w+)$/;
  expect(Object.keys(env).filter((k) => !allowed.test(k))).toEqual([]);
  // The run token travels in the environment, not in the wrapper's arguments.
  expect(cmdline).toContain("loraplane-wrapper");
  expect(cmdline).not.toContain("lprt_stage-token");
});

it("workloadEnvironment drops the control plane's credentials even when asked to pass them", () => {
  const source = { PATH: "/bin", NEXTAUTH_SECRET: "x", DATABASE_URL: "y", HTTPS_PROXY: "http://proxy:3128", HF_HOME: "/cache", RANDOM_VAR: "z" };
  expect(workloadEnvironment(["HTTPS_PROXY", "NEXTAUTH_SECRET", "DATABASE_URL"], source)).toEqual({ PATH: "/bin", HTTPS_PROXY: "http://proxy:3128", HF_HOME: "/cache" });
});
