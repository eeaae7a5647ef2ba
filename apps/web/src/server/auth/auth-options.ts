import "server-only";
import { findUserByEmail } from "@loraplane/db";
import { createUser, signInWithPassword } from "@loraplane/services";
import type { NextAuthOptions } from "next-auth";
import CredentialsProvider from "next-auth/providers/credentials";
import { serverContext } from "../context.ts";
import { clientIp } from "./client-ip.ts";
import { type TSessionClaims, useSecureCookies } from "./session.ts";

/**
 * next-auth configuration: e-mail + password (argon2id) always, an OIDC provider (Keycloak, GitLab …) when OIDC_* is
 * set. JWT sessions: `maxAge` is the idle timeout (each refresh re-issues the cookie), `authTime` carries the sign-in
 * moment for the absolute timeout. Cookies are HttpOnly and SameSite=Lax, Secure in production.
 */
export function authOptions(): NextAuthOptions {
  const { env, db, log } = serverContext();
  const providers: NextAuthOptions["providers"] = [
    CredentialsProvider({
      name: "Password",
      credentials: { email: { label: "E-mail", type: "email" }, password: { label: "Password", type: "password" } },
      async authorize(credentials, req) {
        if (!credentials?.email || !credentials.password) return null;
        const ip = clientIp(req?.headers ?? {}, env.TRUSTED_PROXY);
        // Per-account and per-address backoff; a throttled attempt computes no password hash (see signInWithPassword).
        const result = await signInWithPassword(db, { email: credentials.email, password: credentials.password }, { ip });
        if (result.ok) return { id: result.user.id, email: result.user.email, name: result.user.name };
        log.warn({ email: credentials.email, ip, reason: result.reason }, "failed sign-in");
        // next-auth shows a thrown error's message on the login form (a null return reads "Wrong email or password").
        if (result.reason === "throttled") throw new Error(`Too many failed sign-ins. Try again in ${result.retryAfterS} s.`);
        return null;
      },
    }),
  ];
  if (env.OIDC_ISSUER && env.OIDC_CLIENT_ID && env.OIDC_CLIENT_SECRET) {
    providers.push({
      id: "oidc",
      name: env.OIDC_NAME,
      type: "oauth",
      wellKnown: `${env.OIDC_ISSUER.replace(/\/$/, "")}/.well-known/openid-configuration`,
      clientId: env.OIDC_CLIENT_ID,
      clientSecret: env.OIDC_CLIENT_SECRET,
      authorization: { params: { scope: "openid email profile" } },
      idToken: true,
      checks: ["pkce", "state"],
      profile(profile: { sub: string; email?: string; name?: string; preferred_username?: string }) {
        return { id: profile.sub, email: profile.email ?? null, name: profile.name ?? profile.preferred_username ?? null };
      },
    });
  }
  const now = () => Math.floor(Date.now() / 1000);
  return {
    secret: env.NEXTAUTH_SECRET,
    providers,
    useSecureCookies: useSecureCookies(env),
    session: { strategy: "jwt", maxAge: env.SESSION_IDLE_TIMEOUT_S, updateAge: 0 },
    jwt: { maxAge: env.SESSION_IDLE_TIMEOUT_S },
    pages: { signIn: "/login" },
    callbacks: {
      async signIn({ user, account }) {
        if (account?.provider !== "oidc") return true;
        if (!user.email) return false;
        // First OIDC sign-in creates a viewer without a password; an admin grants project roles.
        const existing = await findUserByEmail(db, user.email.toLowerCase());
        if (existing) return !existing.disabledAt;
        await createUser(db, { email: user.email, name: user.name ?? null, role: "viewer", generatePassword: false }, { type: "system", userId: null });
        return true;
      },
      async jwt({ token, user, account }) {
        const claims = token as TSessionClaims;
        if (user) {
          const row = account?.provider === "oidc" ? await findUserByEmail(db, (user.email ?? "").toLowerCase()) : { id: user.id };
          claims.sub = row?.id;
          claims.authTime = now();
          return claims;
        }
        if (typeof claims.authTime !== "number" || now() - claims.authTime > env.SESSION_ABSOLUTE_TIMEOUT_S) claims.expired = true;
        return claims;
      },
      async session({ session, token }) {
        const claims = token as TSessionClaims;
        if (claims.expired) return { ...session, user: undefined, expires: new Date(0).toISOString() };
        return { ...session, user: { ...session.user, id: claims.sub }, absoluteExpires: new Date(((claims.authTime ?? 0) + env.SESSION_ABSOLUTE_TIMEOUT_S) * 1000).toISOString() };
      },
    },
  };
}
