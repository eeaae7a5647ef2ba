import http from "node:http";
import https from "node:https";
import type { LookupFunction } from "node:net";
import type { TResolvedTarget } from "./address-guard.ts";

export interface TSendResult {
  status: number | null;
  /** First KB of the response body (or the network error) for the delivery log. */
  responseExcerpt: string;
  retryAfterMs: number | null;
  durationMs: number;
  error: string | null;
}

const EXCERPT_BYTES = 1024;

function retryAfterMs(value: string | string[] | undefined): number | null {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return null;
  const seconds = Number(v);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : null;
}

/**
 * One POST to a checked target. The connection goes to the address that was checked (the host name is kept for
 * the Host header and TLS), redirects are not followed (a 3xx is a failed attempt), and the whole exchange is bounded
 * by `timeoutMs`; at most a KB of the answer is kept.
 */
export function sendWebhook(target: TResolvedTarget, headers: Record<string, string>, body: string, timeoutMs: number): Promise<TSendResult> {
  const started = performance.now();
  const pinned: LookupFunction = (_host, options, callback) => {
    if ((options as { all?: boolean }).all) (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address: target.address, family: target.family }]);
    else callback(null, target.address, target.family);
  };
  const client = target.url.protocol === "https:" ? https : http;
  return new Promise<TSendResult>((resolve) => {
    let settled = false;
    const done = (r: Omit<TSendResult, "durationMs">) => {
      if (settled) return;
      settled = true;
      resolve({ ...r, durationMs: Math.round(performance.now() - started) });
    };
    const req = client.request(
      target.url,
      {
        method: "POST",
        headers: { ...headers, "content-length": Buffer.byteLength(body) },
        lookup: pinned,
        signal: AbortSignal.timeout(timeoutMs),
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let kept = 0;
        res.on("data", (c: Buffer) => {
          if (kept < EXCERPT_BYTES) {
            chunks.push(c.subarray(0, EXCERPT_BYTES - kept));
            kept += Math.min(c.length, EXCERPT_BYTES - kept);
          }
        });
        res.on("end", () =>
          done({ status: res.statusCode ?? null, responseExcerpt: Buffer.concat(chunks).toString("utf8"), retryAfterMs: retryAfterMs(res.headers["retry-after"]), error: null }),
        );
        res.on("error", (e) => done({ status: null, responseExcerpt: "", retryAfterMs: null, error: e.message }));
      },
    );
    req.on("error", (e: Error) => {
      const message = e.name === "AbortError" || e.name === "TimeoutError" ? `no answer within ${timeoutMs} ms` : e.message;
      done({ status: null, responseExcerpt: "", retryAfterMs: null, error: message });
    });
    req.end(body);
  });
}
