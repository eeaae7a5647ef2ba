import { hash } from "node:crypto";
import { type Db, findInferenceTokenByHash } from "@loraplane/db";

export const INFERENCE_SCOPE = "inference:invoke";
/** Pinning a request to a variant (the variant header) needs this scope: pinned traffic could otherwise steer a rollout. */
export const PIN_SCOPE = "inference:pin";

/** An authenticated caller: its token, the token's owner and the project the token is bound to (null: unbound). */
export interface TCaller {
  ok: true;
  tokenId: string;
  userId: string;
  projectId: string | null;
  /**
   * The projects whose endpoints this token reaches (null: every project). An unbound token reaches the projects its
   * owner is a member of (a global admin: all); a project-bound token only its project, and only while its owner is a
   * member there (or a global admin).
   */
  projects: ReadonlySet<string> | null;
  /** Whether the token may pin a variant with the variant header (scope inference:pin or admin). */
  canPin: boolean;
}

/** Tenancy of one token, from its binding and its owner's role and memberships. */
export function reachableProjects(token: { projectId: string | null }, owner: { role: string; memberProjectIds: readonly string[] }): ReadonlySet<string> | null {
  const admin = owner.role === "admin";
  if (token.projectId) return admin || owner.memberProjectIds.includes(token.projectId) ? new Set([token.projectId]) : new Set();
  return admin ? null : new Set(owner.memberProjectIds);
}

export type TAuthResult = TCaller | { ok: false; status: 401 | 403 | 503; message: string };

interface TCached {
  result: TAuthResult;
  /** Token expiry, honoured even when served from cache. */
  expiresAt: number | null;
  fetchedAt: number;
}

const MISSING: TAuthResult = { ok: false, status: 401, message: "missing bearer token (Authorization: Bearer <API token>)" };
const BEARER_RE = /^Bearer\s+(\S+)$/i;

function hashOf(authorization: string | undefined): string | null {
  const m = BEARER_RE.exec(authorization ?? "");
  // One-shot hash: no Hash object per request on the hot path.
  return m ? hash("sha256", m[1]!, "hex") : null;
}

/**
 * API-token authentication and tenancy for inference. Lookups (sha256 of the secret against ApiToken.secretHash, read-only) are
 * cached briefly so the hot path does not hit Postgres; while Postgres is unreachable a token seen before keeps
 * working from the cache, and only unknown tokens are refused (503, not 401: the token may well be valid).
 */
export class TokenAuth {
  private cache = new Map<string, TCached>();
  private inflight = new Map<string, Promise<TCached>>();

  constructor(
    private readonly db: Db,
    private readonly ttlMs = 30_000,
    private readonly maxEntries = 10_000,
  ) {}

  /**
   * Answers synchronously for a token looked up within the TTL (the hot path makes no promise then); otherwise after
   * one lookup, shared by concurrent requests with the same token.
   */
  authenticate(authorization: string | undefined): TAuthResult | Promise<TAuthResult> {
    const hash = hashOf(authorization);
    if (hash === null) return MISSING;
    const entry = this.cache.get(hash);
    const now = Date.now();
    if (entry && now - entry.fetchedAt <= this.ttlMs) return this.answer(entry, now);
    return this.lookup(hash).then(
      (fresh) => this.answer(fresh, now),
      // Postgres unreachable: a token seen before keeps working from the cache; an unknown one cannot be checked.
      () => (entry ? this.answer(entry, now) : { ok: false, status: 503, message: "token store unavailable; try again" }),
    );
  }

  private answer(entry: TCached, now: number): TAuthResult {
    if (entry.result.ok && entry.expiresAt !== null && entry.expiresAt <= now) return { ok: false, status: 401, message: "token expired" };
    return entry.result;
  }

  private lookup(hash: string): Promise<TCached> {
    let p = this.inflight.get(hash);
    if (!p) {
      p = (async () => {
        // Memberships are read with the token and cached with it: a membership change reaches the gateway within the TTL.
        const row = await findInferenceTokenByHash(this.db, hash);
        const fetchedAt = Date.now();
        let result: TAuthResult;
        if (!row || row.revokedAt) result = { ok: false, status: 401, message: row ? "token revoked" : "invalid token" };
        else if (row.user.disabledAt) result = { ok: false, status: 401, message: "token owner is disabled" };
        else if (!row.scopes.includes(INFERENCE_SCOPE) && !row.scopes.includes("admin")) result = { ok: false, status: 403, message: `token lacks scope ${INFERENCE_SCOPE}` };
        else result = { ok: true, tokenId: row.id, userId: row.userId, projectId: row.projectId, projects: reachableProjects(row, row.user), canPin: row.scopes.includes(PIN_SCOPE) || row.scopes.includes("admin") };
        const entry = { result, expiresAt: row?.expiresAt ? row.expiresAt.getTime() : null, fetchedAt };
        if (this.cache.size >= this.maxEntries) this.cache.delete(this.cache.keys().next().value!);
        this.cache.set(hash, entry);
        return entry;
      })().finally(() => this.inflight.delete(hash));
      this.inflight.set(hash, p);
    }
    return p;
  }
}
