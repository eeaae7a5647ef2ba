/**
 * The client's address for audit entries and sign-in throttling. X-Forwarded-For is only believed when TRUSTED_PROXY
 * is on (one reverse proxy in front that appends the address it saw): its right-most entry is then the client as the
 * proxy saw it; entries to its left are whatever the client sent. Without a trusted proxy the header is anyone's to
 * forge, so there is no address (null) rather than a false one.
 */
export function clientIp(headers: Headers | Record<string, string | string[] | undefined>, trustedProxy: boolean): string | null {
  if (!trustedProxy) return null;
  const raw = headers instanceof Headers ? headers.get("x-forwarded-for") : headers["x-forwarded-for"];
  const value = Array.isArray(raw) ? raw.join(",") : raw;
  const last = value?.split(",").map((s) => s.trim()).filter(Boolean).pop();
  if (!last) return null;
  // An address, not free text: it ends up in the audit log and in throttle keys.
  return /^[0-9A-Fa-f:.]{2,45}$/.test(last) ? last : null;
}
