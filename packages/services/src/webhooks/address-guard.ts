import { lookup } from "node:dns/promises";
import { BlockList, isIP } from "node:net";
import { ValidationError } from "../errors.ts";

// Webhook URLs are chosen by users, and the worker sends requests from inside the cluster: without this guard a
// subscription to http://169.254.169.254/ or http://redis:6379/ turns the worker into a proxy into the private
// network (SSRF). Every address a host name resolves to is checked, and the request is then pinned to a checked
// address so a second DNS answer cannot swap in a private one (DNS rebinding).

const BLOCKED = new BlockList();
for (const [net, prefix] of [
  ["0.0.0.0", 8], // "this" network
  ["10.0.0.0", 8],
  ["100.64.0.0", 10], // carrier-grade NAT
  ["127.0.0.0", 8],
  ["169.254.0.0", 16], // link-local, cloud metadata services
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.0.2.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["198.51.100.0", 24],
  ["203.0.113.0", 24],
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved, broadcast
] as const)
  BLOCKED.addSubnet(net, prefix, "ipv4");
for (const [net, prefix] of [
  ["::", 128],
  ["::1", 128],
  ["64:ff9b::", 96], // NAT64 reaches IPv4 space
  ["100::", 64],
  ["2001:db8::", 32],
  ["fc00::", 7], // unique local
  ["fe80::", 10], // link-local
  ["ff00::", 8], // multicast
] as const)
  BLOCKED.addSubnet(net, prefix, "ipv6");

/** Internal receivers an operator allowed explicitly (WEBHOOK_ALLOWED_HOSTS): host names and CIDRs. */
export interface TWebhookAllowlist {
  hosts: ReadonlySet<string>;
  networks: BlockList;
}

export function parseWebhookAllowlist(entries: readonly string[]): TWebhookAllowlist {
  const hosts = new Set<string>();
  const networks = new BlockList();
  for (const raw of entries) {
    const entry = raw.trim().toLowerCase();
    if (!entry) continue;
    const [addr, bits] = entry.split("/");
    const family = isIP(addr ?? "");
    if (family) networks.addSubnet(addr!, bits ? Number(bits) : family === 4 ? 32 : 128, family === 4 ? "ipv4" : "ipv6");
    else hosts.add(entry);
  }
  return { hosts, networks };
}

export const NO_ALLOWLIST: TWebhookAllowlist = parseWebhookAllowlist([]);

function familyOf(address: string): "ipv4" | "ipv6" {
  return isIP(address) === 6 ? "ipv6" : "ipv4";
}

/** IPv4-mapped IPv6 (::ffff:10.0.0.1) is checked as the IPv4 address it is. */
function unmapped(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m ? m[1]! : address;
}

export function isPrivateAddress(address: string): boolean {
  const a = unmapped(address);
  return BLOCKED.check(a, familyOf(a));
}

export interface TResolvedTarget {
  url: URL;
  /** The checked address the request must connect to. */
  address: string;
  family: 4 | 6;
}

export class WebhookAddressError extends ValidationError {}

/**
 * Parses and resolves a webhook URL, refusing anything but http(s), credentials in the URL, and any private,
 * loopback, link-local or metadata address unless the host or network is allowlisted.
 */
export async function resolveWebhookTarget(rawUrl: string, allow: TWebhookAllowlist, resolve = lookup): Promise<TResolvedTarget> {
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    throw new WebhookAddressError("url: not a valid URL", [{ path: "url", message: "not a valid URL" }]);
  }
  const refuse = (message: string): never => {
    throw new WebhookAddressError(`url: ${message}`, [{ path: "url", message }]);
  };
  if (url.protocol !== "http:" && url.protocol !== "https:") refuse("must be http or https");
  if (url.username || url.password) refuse("must not contain credentials");
  const host = url.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  const hostAllowed = allow.hosts.has(host);
  const literal = isIP(host);
  const answers = literal
    ? [{ address: host, family: literal as 4 | 6 }]
    : await resolve(host, { all: true, verbatim: true }).catch(() => refuse(`host ${host} does not resolve`));
  if (answers.length === 0) refuse(`host ${host} does not resolve`);
  for (const a of answers) {
    const addr = unmapped(a.address);
    if (hostAllowed || allow.networks.check(addr, familyOf(addr))) continue;
    if (isPrivateAddress(addr)) {
      refuse(`${host} resolves to ${a.address}, a private, loopback or link-local address; an operator can allow internal receivers with WEBHOOK_ALLOWED_HOSTS`);
    }
  }
  const first = answers[0]!;
  return { url, address: first.address, family: first.family === 6 ? 6 : 4 };
}
