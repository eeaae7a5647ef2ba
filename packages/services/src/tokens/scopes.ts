export const API_SCOPES = [
  "runs:read",
  "runs:write",
  "models:read",
  "models:write",
  "deployments:read",
  "deployments:write",
  "approvals:write",
  "inference:invoke",
  // Pin a request to one variant (x-loraplane-variant) at the gateway; pinned traffic is served but never analysed.
  "inference:pin",
  "admin",
] as const;
export type TScope = (typeof API_SCOPES)[number];

/** `admin` includes every other scope; a `:write` scope includes the matching `:read`. */
export function scopeGrants(granted: readonly string[], required: TScope): boolean {
  if (granted.includes("admin") || granted.includes(required)) return true;
  if (required.endsWith(":read")) return granted.includes(required.replace(/:read$/, ":write"));
  return false;
}
