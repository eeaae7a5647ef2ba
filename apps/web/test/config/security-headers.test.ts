// Issue #11 finding 9: every response carries a CSP with frame-ancestors 'none', X-Frame-Options DENY, nosniff and a
// Referrer-Policy; HSTS in production builds and whenever NEXTAUTH_URL is https. Checked on Next's own config object.
import { afterEach, describe, expect, it, vi } from "vitest";
import config, { securityHeaders } from "../../next.config.ts";

type THeaderRule = { source: string; headers: { key: string; value: string }[] };
const byKey = (headers: { key: string; value: string }[]) => Object.fromEntries(headers.map((h) => [h.key.toLowerCase(), h.value]));

afterEach(() => {
  vi.unstubAllEnvs();
});

describe("security headers (next.config headers())", () => {
  it("apply to every path, pages and API alike", async () => {
    const rules = (await config.headers!()) as THeaderRule[];
    expect(rules).toHaveLength(1);
    expect(rules[0]!.source).toBe("/:path*");
    const h = byKey(rules[0]!.headers);
    expect(h["x-frame-options"]).toBe("DENY");
    expect(h["x-content-type-options"]).toBe("nosniff");
    expect(h["referrer-policy"]).toBe("strict-origin-when-cross-origin");
    const csp = h["content-security-policy"]!.split(";").map((d) => d.trim());
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("object-src 'none'");
    expect(csp).toContain("base-uri 'self'");
  });

  it("HSTS in production builds and for an https NEXTAUTH_URL, not for a plain-http development server", async () => {
    vi.stubEnv("NODE_ENV", "development");
    vi.stubEnv("NEXTAUTH_URL", "http://127.0.0.1:3000");
    const devRules = (await config.headers!()) as THeaderRule[];
    expect(byKey(devRules[0]!.headers)["strict-transport-security"]).toBeUndefined();
    expect(byKey(devRules[0]!.headers)["content-security-policy"]).toContain("'unsafe-eval'");

    vi.stubEnv("NEXTAUTH_URL", "https://loraplane.example.com");
    const httpsRules = (await config.headers!()) as THeaderRule[];
    expect(byKey(httpsRules[0]!.headers)["strict-transport-security"]).toMatch(/^max-age=\d{8,}; includeSubDomains$/);

    vi.stubEnv("NODE_ENV", "production");
    vi.stubEnv("NEXTAUTH_URL", "http://127.0.0.1:3000");
    const prodRules = (await config.headers!()) as THeaderRule[];
    expect(byKey(prodRules[0]!.headers)["strict-transport-security"]).toBeDefined();
    expect(byKey(prodRules[0]!.headers)["content-security-policy"]).not.toContain("unsafe-eval");
  });

  it("production CSP allows no eval and no foreign origins", () => {
    const csp = byKey(securityHeaders({ dev: false, https: true }))["content-security-policy"]!;
    expect(csp).not.toMatch(/unsafe-eval|\*|https:|http:/);
  });
});
