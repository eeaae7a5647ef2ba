// Issue #11 finding 3, driven end to end against a real OpenID Provider (oidc-provider on a loopback port): next-auth's
// own handler (the app's options) starts the authorization request, a browser-less user agent signs in at the
// provider (its login and consent forms), and next-auth's callback exchanges the code, verifies the ID token and runs
// the app's signIn/jwt callbacks. Identities are linked by (issuer, subject); an unverified e-mail is refused; an
// existing password account is never taken over by an e-mail claim.
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { useTestDb } from "@loraplane/db/testing";
import { createUser, oidcProviderKey } from "@loraplane/services";
import Provider from "oidc-provider";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authOptions } from "../../src/server/auth/auth-options.ts";
import { readSession } from "../../src/server/auth/session.ts";
import { BASE, configureEnv, SECRET } from "./fixtures.ts";
import { Jar, nextAuth } from "./nextauth-driver.ts";

const t = useTestDb("web-sec-oidc");
const CLIENT_SECRET = randomBytes(24).toString("hex");

/** The provider's users: the login form's "login" is the account id, its claims are what the ID token asserts. */
const ACCOUNTS: Record<string, { email: string; email_verified: boolean; name: string }> = {
  "sub-new": { email: "newbie@oidc.test", email_verified: true, name: "New Bie" },
  "sub-unverified": { email: "unverified@oidc.test", email_verified: false, name: "Un Verified" },
  "sub-attacker": { email: "victim@oidc.test", email_verified: true, name: "Not The Victim" },
  "sub-attacker-unverified": { email: "victim2@oidc.test", email_verified: false, name: "Not The Victim" },
  "sub-provisioned": { email: "provisioned@oidc.test", email_verified: true, name: "Pro Visioned" },
};

let server: Server;
let issuer = "";

beforeAll(async () => {
  server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: "loraplane",
        client_secret: CLIENT_SECRET,
        redirect_uris: [`${BASE}/api/auth/callback/oidc`],
        grant_types: ["authorization_code"],
        response_types: ["code"],
      },
    ],
    // Keycloak, GitLab and most providers put the requested claims into the ID token, which next-auth reads.
    conformIdTokenClaims: false,
    claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
    findAccount: (_ctx: unknown, id: string) => (ACCOUNTS[id] ? { accountId: id, claims: () => ({ sub: id, ...ACCOUNTS[id] }) } : undefined),
    cookies: { keys: [randomBytes(16).toString("hex")] },
    features: { devInteractions: { enabled: true } },
  });
  server.on("request", provider.callback());

  configureEnv(t.url);
  process.env.OIDC_ISSUER = issuer;
  process.env.OIDC_CLIENT_ID = "loraplane";
  process.env.OIDC_CLIENT_SECRET = CLIENT_SECRET;
  await createUser(t.db, { email: "victim@oidc.test", role: "admin", password: "the victim's own password" }, { type: "system", userId: null });
  await createUser(t.db, { email: "victim2@oidc.test", role: "admin", password: "the victim's own password" }, { type: "system", userId: null });
  // An admin created this account for single sign-on: no password.
  await createUser(t.db, { email: "provisioned@oidc.test", role: "viewer", generatePassword: false }, { type: "system", userId: null });
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

/** A user agent at the provider: follows redirects inside the issuer, keeps its cookies, submits its forms. */
async function atProvider(startUrl: string, login: string): Promise<URL> {
  const cookies = new Map<string, string>();
  let url = startUrl;
  let form: Record<string, string> | null = null;
  for (let hop = 0; hop < 20; hop++) {
    const res: Response = await fetch(url, {
      method: form ? "POST" : "GET",
      redirect: "manual",
      headers: {
        cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join("; "),
        ...(form ? { "content-type": "application/x-www-form-urlencoded" } : {}),
      },
      body: form ? new URLSearchParams(form).toString() : undefined,
    });
    form = null;
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(";");
      const eq = pair!.indexOf("=");
      cookies.set(pair!.slice(0, eq), pair!.slice(eq + 1));
    }
    const location = res.headers.get("location");
    if (location) {
      const next = new URL(location, url);
      if (next.origin !== issuer) return next; // back to the relying party (next-auth's callback)
      url = next.toString();
      continue;
    }
    const html: string = await res.text();
    const action: string | undefined = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    const prompt: string | undefined = /name="prompt" value="(\w+)"/.exec(html)?.[1];
    if (!action || !prompt) throw new Error(`unexpected page at the provider (${res.status}): ${html.slice(0, 300)}`);
    url = new URL(action, url).toString();
    form = prompt === "login" ? { prompt, login, password: "anything" } : { prompt };
  }
  throw new Error("too many hops at the provider");
}

/** The whole sign-in: next-auth sign-in → provider → next-auth callback. Returns where next-auth sends the browser. */
async function oidcSignIn(login: string) {
  const options = authOptions();
  const jar = new Jar();
  const csrf = await nextAuth(options, jar, { action: "csrf", method: "GET" });
  const start = await nextAuth(options, jar, {
    action: "signin",
    providerId: "oidc",
    method: "POST",
    body: { csrfToken: (csrf.body as { csrfToken: string }).csrfToken, callbackUrl: `${BASE}/pipelines`, json: "true" },
  });
  expect(start.redirect, "next-auth redirects to the provider").toMatch(new RegExp(`^${issuer}/auth\\?`));
  expect(start.redirect).toContain("code_challenge_method=S256");
  const back = await atProvider(start.redirect!, login);
  expect(back.pathname).toBe("/api/auth/callback/oidc");
  const callback = await nextAuth(options, jar, { action: "callback", providerId: "oidc", method: "GET", query: Object.fromEntries(back.searchParams) });
  const token = jar.cookies.get("next-auth.session-token") ?? null;
  const session = token
    ? await readSession(new Headers({ cookie: `next-auth.session-token=${token}` }), { secret: SECRET, secure: false, absoluteTimeoutS: 3600 })
    : null;
  return { redirect: callback.redirect ?? "", session };
}

describe("OIDC sign-in against a real provider", () => {
  it("a new identity with a verified e-mail creates a viewer linked by (issuer, subject)", async () => {
    const { redirect, session } = await oidcSignIn("sub-new");
    expect(redirect).toBe(`${BASE}/pipelines`);
    const user = await t.db.user.findUniqueOrThrow({ where: { email: "newbie@oidc.test" }, include: { accounts: true } });
    expect(session?.userId).toBe(user.id);
    expect(user.role).toBe("viewer");
    expect(user.passwordHash).toBeNull();
    expect(user.accounts.map((a) => [a.provider, a.providerAccountId])).toEqual([[oidcProviderKey(issuer), "sub-new"]]);
    // Signing in again finds the same user through the link.
    const again = await oidcSignIn("sub-new");
    expect(again.session?.userId).toBe(user.id);
    expect(await t.db.user.count({ where: { email: "newbie@oidc.test" } })).toBe(1);
  });

  it("an unverified e-mail is refused: no user, no link, no session", async () => {
    const { redirect, session } = await oidcSignIn("sub-unverified");
    expect(session).toBeNull();
    expect(redirect).toContain("error=OidcEmailUnverified");
    expect(await t.db.user.count({ where: { email: "unverified@oidc.test" } })).toBe(0);
    expect(await t.db.auditLog.count({ where: { action: "auth.oidc_refused" } })).toBeGreaterThan(0);
  });

  it("a verified e-mail claim never takes over an existing password account (an admin here)", async () => {
    const { redirect, session } = await oidcSignIn("sub-attacker");
    expect(session).toBeNull();
    expect(redirect).toContain("error=OidcPasswordAccount");
    const victim = await t.db.user.findUniqueOrThrow({ where: { email: "victim@oidc.test" }, include: { accounts: true } });
    expect(victim.accounts).toEqual([]);
  });

  it("an unverified e-mail claim for an existing password account is refused too", async () => {
    const { session } = await oidcSignIn("sub-attacker-unverified");
    expect(session).toBeNull();
    expect((await t.db.user.findUniqueOrThrow({ where: { email: "victim2@oidc.test" }, include: { accounts: true } })).accounts).toEqual([]);
  });

  it("a passwordless account an admin created for SSO is linked on its first verified sign-in", async () => {
    const { session } = await oidcSignIn("sub-provisioned");
    const user = await t.db.user.findUniqueOrThrow({ where: { email: "provisioned@oidc.test" }, include: { accounts: true } });
    expect(session?.userId).toBe(user.id);
    expect(user.accounts.map((a) => a.providerAccountId)).toEqual(["sub-provisioned"]);
  });

  it("the link is by subject: another subject with the same (verified) e-mail is refused", async () => {
    ACCOUNTS["sub-impostor"] = { email: "newbie@oidc.test", email_verified: true, name: "Impostor" };
    const { session, redirect } = await oidcSignIn("sub-impostor");
    expect(session).toBeNull();
    expect(redirect).toContain("error=OidcLinkedElsewhere");
  });
});
