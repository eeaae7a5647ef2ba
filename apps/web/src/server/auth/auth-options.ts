import "server-only";
import { findSessionUser, findUserByExternalAccount } from "@loraplane/db";
import { endAllSessions, oidcProviderKey, signInWithOidc, signInWithPassword, type TOidcRefusal } from "@loraplane/services";
import type { NextAuthOptions } from "next-auth";
import CredentialsProvider from "next-auth/providers/credentials";
import { serverContext } from "../context.ts";
import { clientIp } from "./client-ip.ts";
import { type TSessionClaims, useSecureCookies } from "./session.ts";

/** Error codes the login form explains (apps/web/src/app/login/login-form.tsx). */
const OIDC_ERRORS: Record<TOidcRefusal, string> = {
  email_missing: "OidcEmailMissing",
  email_unverified: "OidcEmailUnverified",
  password_account: "OidcPasswordAccount",
  linked_elsewhere: "OidcLinkedElsewhere",
  disabled: "AccessDenied",
};

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
    events: {
      // Signing out ends every browser session of the user, not only this cookie (a copied cookie stops working too).
      async signOut({ token }) {
        const sub = (token as TSessionClaims | null)?.sub;
        if (sub) await endAllSessions(db, sub, { type: "user", userId: sub });
      },
    },
    callbacks: {
      async signIn({ account, profile }) {
        if (account?.provider !== "oidc") return true;
        // Linked by (issuer, subject); an unlinked identity needs a verified e-mail and never takes over a password
        // account (see signInWithOidc). A refusal lands on the login form with its reason.
        const claims = (profile ?? {}) as { email?: string; email_verified?: unknown; name?: string; preferred_username?: string };
        const result = await signInWithOidc(db, {
          issuer: env.OIDC_ISSUER!,
          subject: account.providerAccountId,
          email: claims.email ?? null,
          emailVerified: claims.email_verified,
          name: claims.name ?? claims.preferred_username ?? null,
        });
        if (result.ok) return true;
        log.warn({ issuer: env.OIDC_ISSUER, subject: account.providerAccountId, reason: result.reason }, "refused OIDC sign-in");
        return `/login?error=${OIDC_ERRORS[result.reason]}`;
      },
      async jwt({ token, user, account }) {
        const claims = token as TSessionClaims;
        if (user) {
          const id =
            account?.provider === "oidc"
              ? (await findUserByExternalAccount(db, oidcProviderKey(env.OIDC_ISSUER!), account.providerAccountId))?.id
              : user.id;
          const state = id ? await findSessionUser(db, id) : null;
          claims.sub = state?.id;
          claims.epoch = state?.sessionEpoch ?? 0;
          claims.authTime = now();
          return claims;
        }
        if (typeof claims.authTime !== "number" || now() - claims.authTime > env.SESSION_ABSOLUTE_TIMEOUT_S) claims.expired = true;
        else if (claims.sub) {
          // Sign-out, "sign out everywhere" and a password change bump the user's epoch: older sessions end.
          const state = await findSessionUser(db, claims.sub);
          if (!state || state.disabledAt || state.sessionEpoch !== (claims.epoch ?? 0)) claims.expired = true;
        }
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
