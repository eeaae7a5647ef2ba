// What a user of the REST API and the inference gateway does, over real HTTP: a Bearer-token client that fails loudly
// (status and body) on anything unexpected, and a steady stream of completions through the gateway.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    message: string,
  ) {
    super(message);
  }
}

export class Api {
  constructor(
    readonly baseUrl: string,
    private readonly token: string,
  ) {}

  async request<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: T }> {
    const res = await fetch(this.baseUrl + path, {
      method,
      headers: { authorization: `Bearer ${this.token}`, ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // not JSON: keep the text for the message
    }
    if (!res.ok) throw new ApiError(res.status, parsed, `${method} ${path} → ${res.status}: ${text.slice(0, 500)}`);
    return { status: res.status, body: parsed as T };
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>("GET", path).then((r) => r.body);
  }

  post<T>(path: string, body: unknown = {}, headers: Record<string, string> = {}): Promise<T> {
    return this.request<T>("POST", path, body, headers).then((r) => r.body);
  }
}

/** Thrown inside a poll: the awaited state can no longer happen, so stop waiting at once. */
export class PollAborted extends Error {}

export async function poll<T>(what: string, timeoutMs: number, fn: () => Promise<T | null | undefined | false>, intervalMs = 1_000, explain?: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown = null;
  while (Date.now() < deadline) {
    try {
      const value = await fn();
      if (value) return value;
    } catch (error) {
      if (error instanceof PollAborted) throw new Error(`${what}: ${error.message}${explain ? `\n${explain()}` : ""}`);
      lastError = error;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${(lastError as Error).message})` : ""}${explain ? `\n${explain()}` : ""}`);
}

export interface TTrafficStats {
  sent: number;
  ok: number;
  failed: number;
  /** Successful responses per model version id (the gateway's x-loraplane-model-version header). */
  byVersion: Map<string, number>;
  lastError: string | null;
}

/**
 * Keeps `concurrency` completions in flight against the gateway until stopped: the traffic the rollout analysis
 * judges. Failures are counted, not thrown — a canary that errors is exactly what the analysis must see.
 */
export function startTraffic(options: { gatewayUrl: string; token: string; model: string; concurrency: number; prompts: string[]; maxTokens?: number }) {
  const stats: TTrafficStats = { sent: 0, ok: 0, failed: 0, byVersion: new Map(), lastError: null };
  let running = true;
  const loop = async (lane: number) => {
    let i = lane;
    while (running) {
      const prompt = options.prompts[i++ % options.prompts.length]!;
      stats.sent++;
      try {
        const res = await fetch(`${options.gatewayUrl}/v1/completions`, {
          method: "POST",
          headers: { authorization: `Bearer ${options.token}`, "content-type": "application/json", "x-user-id": `user-${i % 50}` },
          body: JSON.stringify({ model: options.model, prompt, max_tokens: options.maxTokens ?? 8, temperature: 0 }),
          signal: AbortSignal.timeout(30_000),
        });
        const text = await res.text();
        if (res.ok) {
          stats.ok++;
          const version = res.headers.get("x-loraplane-model-version") ?? "unknown";
          stats.byVersion.set(version, (stats.byVersion.get(version) ?? 0) + 1);
        } else {
          stats.failed++;
          stats.lastError = `HTTP ${res.status}: ${text.slice(0, 200)}`;
          // No route yet (404/503 before the first variant is live): back off instead of spinning.
          await new Promise((r) => setTimeout(r, 250));
        }
      } catch (error) {
        stats.failed++;
        stats.lastError = (error as Error).message;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  };
  const lanes = Array.from({ length: options.concurrency }, (_, lane) => loop(lane));
  return {
    stats,
    async stop(): Promise<TTrafficStats> {
      running = false;
      await Promise.all(lanes);
      return stats;
    },
  };
}
