import type { NextConfig } from "next";

/**
 * Security headers on every response (pages and API). Next's `headers()` is evaluated by `next build`, so these are
 * fixed per build: HSTS is sent by production builds and whenever NEXTAUTH_URL is https (browsers ignore it over plain
 * http, RFC 6797 §8.1); dev servers also allow `eval` for React refresh.
 * - CSP: only our own scripts, styles, images and connections; Next's bootstrap is inline, hence 'unsafe-inline' for
 *   scripts (nonces would make every page dynamic); `frame-ancestors 'none'` and X-Frame-Options DENY keep the
 *   approve/promote UI from being framed (clickjacking).
 */
export function securityHeaders(options: { dev: boolean; https: boolean }): { key: string; value: string }[] {
  const csp = [
    "default-src 'self'",
    `script-src 'self' 'unsafe-inline'${options.dev ? " 'unsafe-eval'" : ""}`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
  return [
    { key: "Content-Security-Policy", value: csp },
    { key: "X-Frame-Options", value: "DENY" },
    { key: "X-Content-Type-Options", value: "nosniff" },
    { key: "Referrer-Policy", value: "strict-origin-when-cross-origin" },
    { key: "Permissions-Policy", value: "camera=(), microphone=(), geolocation=(), payment=()" },
    { key: "Cross-Origin-Opener-Policy", value: "same-origin" },
    ...(options.https ? [{ key: "Strict-Transport-Security", value: "max-age=63072000; includeSubDomains" }] : []),
  ];
}

const config: NextConfig = {
  // Workspace packages ship TypeScript sources; Next compiles them with the app.
  transpilePackages: ["@loraplane/core", "@loraplane/config", "@loraplane/db", "@loraplane/queue", "@loraplane/services"],
  serverExternalPackages: ["pg", "@prisma/client", "@prisma/adapter-pg", "bullmq", "ioredis", "pino", "@node-rs/argon2"],
  poweredByHeader: false,
  typedRoutes: false,
  // `next build` type-checks what it builds (src); the tests are type-checked by `npm run typecheck` (tsconfig.json).
  typescript: { tsconfigPath: "tsconfig.build.json" },
  async headers() {
    const dev = process.env.NODE_ENV === "development";
    const https = process.env.NODE_ENV === "production" || (process.env.NEXTAUTH_URL ?? "").startsWith("https://");
    return [{ source: "/:path*", headers: securityHeaders({ dev, https }) }];
  },
};

export default config;
