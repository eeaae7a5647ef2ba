// When a failed webhook delivery is tried again: exponential backoff with full jitter (AWS's recommendation), capped,
// for a fixed number of attempts. Pure so the schedule is testable without waiting for it.

export interface TRetryPolicy {
  /** Total attempts, the first one included. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

/** Roughly 10 s, 20 s, 40 s … up to an hour between the 8 attempts: about 21 minutes of retrying at most. */
export const DEFAULT_WEBHOOK_RETRY: TRetryPolicy = { maxAttempts: 8, baseDelayMs: 10_000, maxDelayMs: 3_600_000 };

/**
 * The delay before attempt `attemptsMade + 1`, or null when no attempt is left. `random` ∈ [0, 1) spreads retries
 * of many deliveries that failed together over [delay/2, delay) so a recovering receiver is not hit all at once.
 */
export function nextRetryDelayMs(policy: TRetryPolicy, attemptsMade: number, random: number, retryAfterMs?: number | null): number | null {
  if (attemptsMade >= policy.maxAttempts) return null;
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attemptsMade - 1));
  const jittered = exp / 2 + (exp / 2) * Math.min(Math.max(random, 0), 0.999_999);
  // A receiver's Retry-After (429/503) is honoured when it asks for longer, never beyond the cap.
  return Math.floor(retryAfterMs && retryAfterMs > jittered ? Math.min(retryAfterMs, policy.maxDelayMs) : jittered);
}

/** 2xx succeeded; everything else (network error = null) is retried while attempts remain. */
export function isDeliverySuccess(status: number | null): boolean {
  return status !== null && status >= 200 && status < 300;
}
