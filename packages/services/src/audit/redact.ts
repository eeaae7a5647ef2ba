// Audit entries are read by every member of a project (viewers included), so they never carry secrets. Webhook URLs
// are secrets (a Slack or Teams incoming-webhook URL is its own credential): only the scheme and host are kept.

const SECRET_KEYS = /^(secret|secrets|secretCiphertext|previousSecretCiphertext|password|passwordHash|token|accessToken|refreshToken|idToken|apiKey|authorization|cookie)$/i;
const URL_KEYS = /(url|uri|endpoint)$/i;

/** `https://hooks.slack.com/services/T0/B0/XYZ` → `https://hooks.slack.com/…`; anything unparseable → `[redacted]`. */
export function redactUrl(value: string): string {
  try {
    const url = new URL(value);
    if (url.protocol !== "http:" && url.protocol !== "https:") return value.startsWith("file:") || !url.host ? value : "[redacted]";
    return `${url.protocol}//${url.host}/…`;
  } catch {
    return "[redacted]";
  }
}

/**
 * A copy of an audit payload with secret-named fields replaced and http(s) URLs reduced to their origin (only for
 * keys that name a URL, e.g. `url`, `targetUrl`, so `file://` dataset URIs stay readable). Applied when an entry is
 * written and again when entries are read, so rows written before this existed are redacted as well.
 */
export function redactAuditValue(value: unknown, depth = 0): unknown {
  if (depth > 16 || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((v) => redactAuditValue(v, depth + 1));
  if (value instanceof Date) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (key === "__proto__") continue;
    if (SECRET_KEYS.test(key)) out[key] = v === null || v === undefined ? v : "[redacted]";
    else if (URL_KEYS.test(key) && typeof v === "string" && /^https?:/i.test(v)) out[key] = redactUrl(v);
    else out[key] = redactAuditValue(v, depth + 1);
  }
  return out;
}
