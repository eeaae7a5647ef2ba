"use client";
import { getProviders, signIn, type ClientSafeProvider } from "next-auth/react";
import { useSearchParams } from "next/navigation";
import { useEffect, useState } from "react";

/** Only same-site paths, so a crafted link cannot bounce a fresh session to another site. */
function safeCallback(raw: string | null): string {
  return raw && raw.startsWith("/") && !raw.startsWith("//") ? raw : "/pipelines";
}

const ERRORS: Record<string, string> = {
  CredentialsSignin: "Wrong email or password.",
  SessionRequired: "Please sign in to continue.",
  AccessDenied: "This account cannot sign in.",
  OidcEmailMissing: "Your identity provider did not share an e-mail address.",
  OidcEmailUnverified: "Your identity provider has not verified your e-mail address.",
  OidcPasswordAccount: "An account with this e-mail signs in with a password. Sign in with it; single sign-on is not linked to it automatically.",
  OidcLinkedElsewhere: "This e-mail is already linked to another single sign-on identity.",
};

export function LoginForm() {
  const params = useSearchParams();
  const callbackUrl = safeCallback(params.get("callbackUrl"));
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(() => {
    const code = params.get("error");
    return code ? ERRORS[code] ?? `Sign-in failed (${code}).` : null;
  });
  const [sso, setSso] = useState<ClientSafeProvider[]>([]);

  useEffect(() => {
    getProviders()
      .then((providers) => setSso(Object.values(providers ?? {}).filter((p) => p.type === "oauth")))
      .catch(() => setSso([]));
  }, []);

  async function submit(e: React.FormEvent) {
    e.preventDefault();
    if (!email.trim() || !password) {
      setError(!email.trim() ? "Enter your email." : "Enter your password.");
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const result = await signIn("credentials", { email: email.trim(), password, redirect: false, callbackUrl });
      if (!result || result.error) {
        setError(ERRORS[result?.error ?? ""] ?? (result?.error ? `Sign-in failed: ${result.error}` : "Sign-in failed."));
        return;
      }
      window.location.assign(callbackUrl);
    } catch {
      setError("Cannot reach the server. Try again.");
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="card" style={{ width: "min(360px, 100%)", padding: 24 }}>
      <div className="brand" style={{ marginBottom: 16, padding: 0 }}>
        <span className="brand-mark" aria-hidden /> Loraplane
      </div>
      <h1 style={{ marginBottom: 14 }}>Sign in</h1>
      <form className="stack" onSubmit={submit} noValidate>
        <div className="field">
          <label htmlFor="email">Email</label>
          <input id="email" className="input" type="email" autoComplete="username" value={email} onChange={(e) => setEmail(e.target.value)} autoFocus />
        </div>
        <div className="field">
          <label htmlFor="password">Password</label>
          <input id="password" className="input" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} />
        </div>
        {error ? (
          <div className="alert red" role="alert">
            {error}
          </div>
        ) : null}
        <button type="submit" className="btn btn-primary" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
      {sso.map((provider) => (
        <button key={provider.id} type="button" className="btn" style={{ width: "100%", marginTop: 8 }} onClick={() => void signIn(provider.id, { callbackUrl })}>
          Continue with {provider.name}
        </button>
      ))}
    </div>
  );
}
