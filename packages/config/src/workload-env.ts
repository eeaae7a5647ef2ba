// The environment a local workload (train/eval process, local `serve`) starts with: never the control plane's own
// (NEXTAUTH_SECRET, LORAPLANE_SECRET_KEY, DATABASE_URL, REDIS_URL …), only what a Python/CUDA process needs plus the
// runtime's own variables. Read here because this package is the one place that reads process.env.

/** Always passed when set. */
const BASE = ["PATH", "HOME", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "USER", "LOGNAME"];
/** The runtime's own variables (gpu-runtime, torch, CUDA, Hugging Face offline caches, BLAS threads). */
const RUNTIME = /^(LORAPLANE_RUNTIME_|OMP_|MKL_|OPENBLAS_|CUDA_|NVIDIA_|NCCL_|HF_|TRANSFORMERS_|TOKENIZERS_|TORCH_|PYTORCH_|TRITON_)/;
/** Never passed, even when listed: the control plane's credentials and connection strings. */
const DENY = /^(NEXTAUTH_|DATABASE_|REDIS_|LORAPLANE_SECRET_KEY$|LORAPLANE_EMBEDDED_PG_|METRICS_TOKEN$|OIDC_|SMTP_)|SECRET|PASSWORD/i;

export function isDeniedWorkloadEnv(name: string): boolean {
  return DENY.test(name);
}

/**
 * The minimal environment from `source` (process.env by default): BASE, the runtime's variables and the names in
 * `extra` (operator pass-through, e.g. HTTPS_PROXY), minus anything DENY matches.
 */
export function workloadEnvironment(extra: readonly string[] = [], source: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(source)) {
    if (value === undefined || isDeniedWorkloadEnv(name)) continue;
    if (BASE.includes(name) || RUNTIME.test(name) || extra.includes(name)) out[name] = value;
  }
  return out;
}
