import "server-only";
import { randomUUID } from "node:crypto";
import type { TWebEnv } from "@loraplane/config";
import { type Db, findProjectIdOf, type TOwnedKind } from "@loraplane/db";
import {
  authenticateRunToken,
  getProjectRole,
  issuePath,
  listRolesOfUser,
  roleAtLeast,
  scopeGrants,
  type TActor,
  type TRequestMeta,
  type TRole,
  type TRunTokenClaims,
  type TScope,
} from "@loraplane/services";
import pino, { type Logger } from "pino";
import { z } from "zod";
import { authenticate, InvalidCredentialsError, sameOrigin, type TPrincipal } from "../auth/principal.ts";
import { clientIp } from "../auth/client-ip.ts";
import { serverContext } from "../context.ts";
import { errorBody, errorResponse, forbidden, HttpError, notFound, unauthenticated } from "./errors.ts";
import { hostileJsonProblem } from "./hostile-json.ts";
import { readBodyLimited } from "./read-body.ts";
import { withRequestMetrics } from "../observability/web-metrics.ts";

type TMethod = "get" | "post" | "put" | "patch" | "delete";

/** Where a request's project comes from: a path parameter, the owner of an object, or the query (list filters). */
export type TProjectSource =
  | { param: string }
  | { owner: TOwnedKind; param: string }
  | { query: string }
  | { body: string };

export type TRouteAuth =
  | { kind: "public" }
  /** A user (browser session or API token). `role` is the project role, `globalRole` the user's own role. */
  | { kind: "user"; scope?: TScope; role?: TRole; globalRole?: TRole; project?: TProjectSource }
  /** The per-run ingest token handed to a workload; the handler verifies it against the run. */
  | { kind: "run" }
  /** Inbound git webhooks: the handler verifies the provider's secret or signature. */
  | { kind: "signature" };

type ZObj = z.ZodObject<z.ZodRawShape>;

export type TRouteDef<P extends ZObj | undefined, Q extends ZObj | undefined, B extends z.ZodType | undefined, R extends z.ZodType> = {
  operationId: string;
  method: TMethod;
  path: string;
  summary: string;
  tags: string[];
  auth: TRouteAuth;
  params?: P;
  query?: Q;
  body?: B;
  /** Headers documented in OpenAPI (Idempotency-Key, X-Gitlab-Token …). */
  headers?: ZObj;
  response: R;
  /** Error responses of this operation beyond the common ones (400/401/403/404/409), by status: their description. */
  errors?: Record<string, string>;
  /** A request body the handler streams itself from `req` (a file upload): documented only, never read here. */
  streamedBody?: { mediaType: string; schema: z.ZodType; description: string };
  /** Media type of a non-JSON success response (docs page, artifact download). */
  responseType?: string;
  status?: 200 | 201 | 202;
  /** Returns a value the response schema validates after JSON serialisation (Dates become ISO strings), or a Response. */
  handler: (ctx: THandlerContext<P, Q, B>) => Promise<unknown>;
};

type Infer<T> = T extends z.ZodType ? z.output<T> : undefined;

export type THandlerContext<P, Q, B> = {
  req: Request;
  params: Infer<P>;
  query: Infer<Q>;
  body: Infer<B>;
  rawBody: string;
  db: Db;
  env: TWebEnv;
  log: Logger;
  requestId: string;
  meta: TRequestMeta;
  /** Set for `user` routes. */
  principal: TPrincipal;
  actor: TActor;
  /** The project the request was authorized against, when the route is project-scoped. */
  projectId: string | null;
  /** Set for `run` routes: the run, stage and attempt the workload's token was issued for. */
  runToken: TRunTokenClaims;
  /** Projects the caller may see at `minRole` (a project-bound token sees only its own). */
  visibleProjectIds: (minRole: TRole) => Promise<string[]>;
};

export type TRoute = {
  def: TRouteDef<ZObj | undefined, ZObj | undefined, z.ZodType | undefined, z.ZodType>;
  handler: (req: Request) => Promise<Response>;
};

// Used when the server context itself cannot be built (bad configuration): the error still gets logged.
const fallbackLog = pino({ base: { service: "web" } });
const MAX_BODY_BYTES = 2 * 1024 * 1024;
const READ_METHODS = new Set(["get", "head", "options"]);

function pathRegex(path: string): { regex: RegExp; names: string[] } {
  const names: string[] = [];
  const source = path.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{(\w+)\}/g, (_m, name: string) => {
    names.push(name);
    return "([^/]+)";
  });
  return { regex: new RegExp(`^${source}/?$`), names };
}

function zodIssues(error: z.ZodError, prefix: string) {
  // An unknown field is reported at its own path, so the 400 names it (`expiresInDays`, `members[0].admin`).
  return error.issues.flatMap((i) =>
    i.code === "unrecognized_keys"
      ? i.keys.map((key) => ({ path: issuePath([...i.path, key], prefix), message: "unknown field" }))
      : [{ path: issuePath(i.path, prefix), message: i.message }],
  );
}

function parsePart<S extends z.ZodType | undefined>(schema: S, input: unknown, where: string): Infer<S> {
  if (!schema) return undefined as Infer<S>;
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const issues = zodIssues(parsed.error, where === "body" ? "" : where);
    throw new HttpError(400, "validation_failed", `invalid ${where}: ${issues[0]?.path || where} ${issues[0]?.message ?? ""}`.trim(), issues);
  }
  return parsed.data as Infer<S>;
}

function requestId(headers: Headers): string {
  const given = headers.get("x-request-id");
  return given && /^[\w.-]{1,128}$/.test(given) ? given : randomUUID();
}

// JSON has no bigint: sizes fit in a double; anything larger is a bug worth seeing.
function toJson(value: unknown): unknown {
  return JSON.parse(
    JSON.stringify(value, (_k, v) => {
      if (typeof v !== "bigint") return v;
      if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error("bigint too large for JSON");
      return Number(v);
    }),
  );
}

// Counted while streaming: a chunked body without Content-Length is cut off at the limit, not buffered whole.
const readBody = (req: Request): Promise<string> => readBodyLimited(req, MAX_BODY_BYTES);

async function resolveProject(
  db: Db,
  source: TProjectSource | undefined,
  params: Record<string, string>,
  query: Record<string, unknown>,
  body: unknown,
): Promise<string | null | undefined> {
  if (!source) return undefined;
  if ("owner" in source) return findProjectIdOf(db, source.owner, params[source.param]!);
  if ("param" in source) return params[source.param]!;
  if ("query" in source) return (query[source.query] as string | undefined) ?? undefined;
  const value = (body as Record<string, unknown> | null)?.[source.body];
  return typeof value === "string" ? value : undefined;
}

/**
 * The one route builder: authenticates (session cookie or Bearer token), authorizes by project role and token scope,
 * validates params, query and body with zod, runs the handler, validates the response against the documented schema
 * and maps every error to `{ error: { code, message, issues? }, requestId }`. The same definition feeds OpenAPI.
 */
export function defineRoute<P extends ZObj | undefined, Q extends ZObj | undefined, B extends z.ZodType | undefined, R extends z.ZodType>(
  given: TRouteDef<P, Q, B, R>,
): TRoute {
  // Request bodies are closed: an unknown top-level field is a 400 naming it, never silently dropped (nested objects
  // are declared strict where they are defined; the contract test checks the whole OpenAPI document).
  const def = given.body instanceof z.ZodObject ? { ...given, body: given.body.strict() as unknown as B } : given;
  const { regex, names } = pathRegex(def.path);
  const handler = async (req: Request): Promise<Response> => {
    const rid = requestId(req.headers);
    let log: Logger | undefined;
    try {
      const { db, env, log: baseLog } = serverContext();
      log = baseLog;
      const url = new URL(req.url);
      const match = regex.exec(url.pathname);
      if (!match) throw notFound(`route ${url.pathname}`);
      const rawParams = Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(match[i + 1]!)]));
      const rawQuery = Object.fromEntries(url.searchParams.entries());
      const meta: TRequestMeta = { requestId: rid, ip: clientIp(req.headers, env.TRUSTED_PROXY) };

      let principal: TPrincipal | null = null;
      if (def.auth.kind === "user") {
        try {
          principal = await authenticate(db, env, req.headers);
        } catch (error) {
          if (error instanceof InvalidCredentialsError) throw new HttpError(401, "invalid_token", error.message);
          throw error;
        }
        if (!principal) throw unauthenticated();
        if (principal.via === "session" && !READ_METHODS.has(req.method.toLowerCase()) && !sameOrigin(req.headers, req.url, env.NEXTAUTH_URL)) {
          throw new HttpError(403, "csrf_failed", "cross-site request refused: the Origin header does not match this server");
        }
        if (principal.via === "token" && def.auth.scope && !scopeGrants(principal.scopes ?? [], def.auth.scope)) {
          throw new HttpError(403, "insufficient_scope", `this API token lacks the "${def.auth.scope}" scope`);
        }
        if (def.auth.globalRole && !roleAtLeast(principal.globalRole, def.auth.globalRole)) {
          throw forbidden(`requires the ${def.auth.globalRole} role`);
        }
      }

      let runToken: TRunTokenClaims | null = null;
      if (def.auth.kind === "run") {
        // Workloads are authenticated before their payload is looked at, like every other caller; the claims say
        // which stage attempt the token is for (ingest writes only to that attempt).
        const secret = /^Bearer\s+(\S+)$/i.exec(req.headers.get("authorization") ?? "")?.[1] ?? null;
        runToken = await authenticateRunToken(db, rawParams.runId ?? "", secret);
      }
      const params = parsePart(def.params, rawParams, "params");
      const rawBody = def.body || def.auth.kind === "signature" ? await readBody(req) : "";
      let jsonBody: unknown = undefined;
      if (def.body) {
        if (rawBody.trim() === "") jsonBody = {};
        else {
          try {
            jsonBody = JSON.parse(rawBody);
          } catch {
            throw new HttpError(400, "invalid_json", "the request body is not valid JSON");
          }
          const hostile = hostileJsonProblem(jsonBody);
          if (hostile) throw new HttpError(400, "validation_failed", `invalid body: ${hostile.path} ${hostile.message}`, [hostile]);
        }
      }

      let projectId: string | null = null;
      const auth = def.auth;
      if (auth.kind === "user" && principal) {
        const source = auth.project;
        const what = source && "owner" in source ? `${source.owner.replace("_", " ")} ${rawParams[source.param]}` : "project";
        const resolved = await resolveProject(db, source, rawParams, rawQuery, jsonBody);
        if (resolved === null) throw notFound(what);
        if (resolved !== undefined) {
          const role =
            principal.tokenProjectId && principal.tokenProjectId !== resolved
              ? null
              : await getProjectRole(db, { id: principal.userId, globalRole: principal.globalRole }, resolved);
          // Not a member (or another project's token): the object does not exist as far as this caller knows.
          if (!role) throw notFound(what);
          if (auth.role && !roleAtLeast(role, auth.role)) throw forbidden(`requires the ${auth.role} role in this project (you are ${role})`);
          projectId = resolved;
        }
      }

      const query = parsePart(def.query, rawQuery, "query");
      const body = parsePart(def.body, jsonBody, "body");
      const p = principal;
      const result = await def.handler({
        req,
        params: params as Infer<P>,
        query: query as Infer<Q>,
        body: body as Infer<B>,
        rawBody,
        db,
        env,
        log,
        requestId: rid,
        meta,
        principal: p as TPrincipal,
        actor: p ? { type: p.via === "token" ? "token" : "user", userId: p.userId, tokenId: p.tokenId } : { type: "system", userId: null },
        projectId,
        runToken: runToken as TRunTokenClaims,
        visibleProjectIds: async (minRole) => {
          if (!p) return [];
          const roles = await listRolesOfUser(db, { id: p.userId, globalRole: p.globalRole });
          return roles.filter((r) => roleAtLeast(r.role, minRole) && (!p.tokenProjectId || r.projectId === p.tokenProjectId)).map((r) => r.projectId);
        },
      });

      let response: Response;
      if (result instanceof Response) {
        response = result;
      } else {
        const checked = def.response.safeParse(toJson(result));
        if (!checked.success) {
          log.error({ requestId: rid, operationId: def.operationId, issues: checked.error.issues }, "response does not match its schema");
          throw new Error(`response of ${def.operationId} does not match its schema`);
        }
        response = Response.json(checked.data, { status: def.status ?? 200 });
      }
      response.headers.set("x-request-id", rid);
      if (principal?.refreshCookie) response.headers.append("set-cookie", principal.refreshCookie);
      return response;
    } catch (error) {
      return errorResponse(error, rid, log ?? fallbackLog);
    }
  };
  return { def: def as unknown as TRoute["def"], handler: withRequestMetrics(def.operationId, handler) };
}

export { errorBody };
