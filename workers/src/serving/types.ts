/** Where a base model is served for an environment: a local gpu-runtime `serve` process or a vLLM Deployment. */
export interface TServingTarget {
  environmentId: string;
  /** Kubernetes namespace of the environment (ignored locally). */
  namespace: string;
  baseModel: string;
}

export interface TInstanceRef {
  url: string;
  /** Local: "pid:<pid>"; Kubernetes: "<namespace>/<deployment name>". */
  externalId: string;
}

export interface TServingBackend {
  readonly kind: "local" | "kubernetes";
  /**
   * Returns a healthy instance serving the base model, re-attaching to `existing` when it is still alive and
   * starting one otherwise. Waits for health before returning.
   */
  ensure(target: TServingTarget, existing: TInstanceRef | null, signal?: AbortSignal): Promise<TInstanceRef>;
  /**
   * Loads a LoRA adapter under `name` on every replica; loading one already present is not an error. `sha256` is the
   * registered digest (sha256 of the adapter's manifest.json): what is loaded is verified against it first.
   */
  loadAdapter(instance: TInstanceRef, name: string, adapterUri: string, sha256: string | null): Promise<void>;
  unloadAdapter(instance: TInstanceRef, name: string): Promise<void>;
  stop(instance: TInstanceRef): Promise<void>;
}

/**
 * POSTs vLLM's runtime LoRA endpoints; "already loaded" / "not found" count as done so calls are idempotent. `apiKey`
 * is the serving key (SERVING_API_KEY) vLLM and `serve` require as a bearer token.
 */
export async function postLora(baseUrl: string, op: "load" | "unload", body: Record<string, string>, apiKey?: string): Promise<void> {
  const res = await fetch(`${baseUrl}/v1/${op}_lora_adapter`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(300_000),
  });
  if (res.ok) return;
  const text = await res.text();
  if (op === "load" && res.status === 400 && /already been loaded/i.test(text)) return;
  if (op === "unload" && res.status === 404) return;
  throw new Error(`${op}_lora_adapter ${body.lora_name} on ${baseUrl}: HTTP ${res.status} ${text.slice(0, 300)}`);
}

export async function waitHealthy(url: string, timeoutMs: number, signal?: AbortSignal, isAlive?: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    if (signal?.aborted) throw new Error("aborted while waiting for the serving backend");
    if (isAlive && !isAlive()) throw new Error(`serving process exited before becoming healthy${last ? ` (${last})` : ""}`);
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`serving backend at ${url} not healthy after ${Math.round(timeoutMs / 1000)}s (${last})`);
}
