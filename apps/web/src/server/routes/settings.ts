import {
  checkTokenMinting,
  createApiToken,
  createUser,
  createWebhookSubscription,
  deleteWebhook,
  ForbiddenError,
  getApiToken,
  listApiTokens,
  listAudit,
  listRolesOfUser,
  listUsers,
  listWebhooks,
  NotFoundError,
  parseWebhookAllowlist,
  revokeApiToken,
  rotateInboundWebhookSecret,
  INBOUND_PROVIDERS,
  tokenVisibleTo,
  updateUser,
  WEBHOOK_EVENTS,
} from "@loraplane/services";
import { WEBHOOK_FORMATS } from "@loraplane/core";
import { z } from "../api/zod.ts";
import { defineRoute } from "../api/route.ts";
import { page, ZApiToken, ZAuditEntry, ZId, ZLimit, ZOk, ZRole, ZScope, ZUser, ZWebhook } from "../api/schemas.ts";

export const meRoute = defineRoute({
  operationId: "getMe",
  method: "get",
  path: "/api/v1/me",
  summary: "The caller, their role in each project, and what a browser must send on writes",
  tags: ["meta"],
  auth: { kind: "user" },
  response: z.object({
    user: z.object({ id: z.string(), email: z.string(), role: ZRole }),
    via: z.enum(["session", "token"]),
    scopes: z.array(z.string()).nullable(),
    projects: z.array(z.object({ projectId: z.string(), role: ZRole })),
    csrf: z.object({ sameOriginRequired: z.boolean(), note: z.string() }),
  }),
  handler: async ({ db, principal }) => {
    const roles = await listRolesOfUser(db, { id: principal.userId, globalRole: principal.globalRole });
    return {
      user: { id: principal.userId, email: principal.email, role: principal.globalRole },
      via: principal.via,
      scopes: principal.scopes,
      projects: roles.filter((r) => !principal.tokenProjectId || r.projectId === principal.tokenProjectId),
      csrf: {
        sameOriginRequired: principal.via === "session",
        note: "cookie-authenticated POST/PUT/PATCH/DELETE must come from this origin (the browser's Origin header); Bearer tokens are exempt",
      },
    };
  },
});

export const listTokensRoute = defineRoute({
  operationId: "listTokens",
  method: "get",
  path: "/api/v1/tokens",
  summary: "Your API tokens (admins: everybody's) — prefixes only, never secrets",
  tags: ["settings"],
  auth: { kind: "user", scope: "admin" },
  response: z.object({ items: z.array(ZApiToken) }),
  handler: async ({ db, principal }) => ({
    items: (await listApiTokens(db, principal.globalRole === "admin" ? {} : { userId: principal.userId })).filter((t) => tokenVisibleTo(principal, t)),
  }),
});

export const createTokenRoute = defineRoute({
  operationId: "createToken",
  method: "post",
  path: "/api/v1/tokens",
  summary: "Create an API token for yourself; the secret is in this response only",
  tags: ["settings"],
  auth: { kind: "user", scope: "admin", project: { body: "projectId" } },
  body: z.object({
    name: z.string().min(1).max(100),
    scopes: z.array(ZScope).min(1, "choose at least one scope"),
    projectId: ZId.nullish(),
    expiresAt: z.iso.datetime({ offset: true }).nullish(),
  }),
  response: z.object({ token: ZApiToken, secret: z.string() }),
  status: 201,
  handler: async ({ db, body, principal, actor, meta }) => {
    if (body.scopes.includes("admin") && principal.globalRole !== "admin") throw new ForbiddenError("only admins may create admin-scoped tokens", [{ path: "scopes", message: "admin scope needs the admin role" }]);
    checkTokenMinting(principal, { scopes: body.scopes, projectId: body.projectId ?? null });
    return createApiToken(db, { name: body.name, scopes: body.scopes, userId: principal.userId, projectId: body.projectId ?? null, expiresAt: body.expiresAt ? new Date(body.expiresAt) : null }, actor, meta);
  },
});

export const revokeTokenRoute = defineRoute({
  operationId: "revokeToken",
  method: "delete",
  path: "/api/v1/tokens/{id}",
  summary: "Revoke a token (yours, or anybody's as admin)",
  tags: ["settings"],
  auth: { kind: "user", scope: "admin" },
  params: z.object({ id: ZId }),
  response: ZApiToken,
  handler: async ({ db, params, principal, actor, meta }) => {
    const token = await getApiToken(db, params.id);
    if (!token || (token.userId !== principal.userId && principal.globalRole !== "admin") || !tokenVisibleTo(principal, token)) throw new NotFoundError(`token ${params.id} not found`);
    return revokeApiToken(db, params.id, actor, meta);
  },
});

export const listUsersRoute = defineRoute({
  operationId: "listUsers",
  method: "get",
  path: "/api/v1/users",
  summary: "All users",
  tags: ["settings"],
  auth: { kind: "user", scope: "admin", globalRole: "admin" },
  response: z.object({ items: z.array(ZUser) }),
  handler: async ({ db }) => ({ items: await listUsers(db) }),
});

export const createUserRoute = defineRoute({
  operationId: "createUser",
  method: "post",
  path: "/api/v1/users",
  summary: "Create a user; without a password one is generated and returned once",
  tags: ["settings"],
  auth: { kind: "user", scope: "admin", globalRole: "admin" },
  body: z.object({ email: z.email().max(320), name: z.string().max(200).nullish(), role: ZRole.default("viewer"), password: z.string().min(12, "must be at least 12 characters").max(1000).optional() }),
  response: z.object({ user: ZUser, generatedPassword: z.string().nullable() }),
  status: 201,
  handler: ({ db, body, actor, meta }) => createUser(db, body, actor, meta),
});

export const updateUserRoute = defineRoute({
  operationId: "updateUser",
  method: "patch",
  path: "/api/v1/users/{id}",
  summary: "Change a user's name, global role, password or disable them",
  tags: ["settings"],
  auth: { kind: "user", scope: "admin", globalRole: "admin" },
  params: z.object({ id: ZId }),
  body: z.object({ name: z.string().max(200).nullish(), role: ZRole.optional(), disabled: z.boolean().optional(), password: z.string().min(12, "must be at least 12 characters").max(1000).optional() }),
  response: ZUser,
  handler: ({ db, params, body, actor, meta }) => updateUser(db, params.id, body, actor, meta),
});

export const listWebhooksRoute = defineRoute({
  operationId: "listWebhooks",
  method: "get",
  path: "/api/v1/projects/{projectId}/webhooks",
  summary: "Outbound webhook subscriptions (secrets are never returned)",
  tags: ["settings"],
  auth: { kind: "user", scope: "admin", role: "admin", project: { param: "projectId" } },
  params: z.object({ projectId: ZId }),
  response: z.object({ items: z.array(ZWebhook) }),
  handler: async ({ db, params }) => ({ items: await listWebhooks(db, params.projectId) }),
});

export const createWebhookRoute = defineRoute({
  operationId: "createWebhook",
  method: "post",
  path: "/api/v1/projects/{projectId}/webhooks",
  summary: "Subscribe a URL to events; deliveries are signed with HMAC-SHA256 of the secret",
  tags: ["settings"],
  auth: { kind: "user", scope: "admin", role: "admin", project: { param: "projectId" } },
  params: z.object({ projectId: ZId }),
  body: z.object({
    url: z.url({ protocol: /^https?$/ }).max(2000),
    events: z.array(z.enum(WEBHOOK_EVENTS)).min(1, "subscribe to at least one event"),
    secret: z.string().min(16, "must be at least 16 characters").max(200).optional(),
    format: z.enum(WEBHOOK_FORMATS).default("standard").describe("standard (signed JSON), slack or teams (incoming-webhook messages)"),
  }),
  response: z.object({ subscription: ZWebhook, secret: z.string().nullable() }),
  status: 201,
  handler: ({ db, env, params, body, actor, meta }) =>
    createWebhookSubscription(db, env.LORAPLANE_SECRET_KEY, params.projectId, body, actor, meta, parseWebhookAllowlist(env.WEBHOOK_ALLOWED_HOSTS)),
});

export const deleteWebhookRoute = defineRoute({
  operationId: "deleteWebhook",
  method: "delete",
  path: "/api/v1/webhooks/{id}",
  summary: "Delete a webhook subscription",
  tags: ["settings"],
  auth: { kind: "user", scope: "admin", role: "admin", project: { owner: "webhook", param: "id" } },
  params: z.object({ id: ZId }),
  response: ZOk,
  handler: async ({ db, params, actor, meta }) => {
    await deleteWebhook(db, params.id, actor, meta);
    return { ok: true as const };
  },
});

export const rotateInboundSecretRoute = defineRoute({
  operationId: "rotateInboundWebhookSecret",
  method: "post",
  path: "/api/v1/projects/{projectId}/hooks/{provider}/secret",
  summary: "Create or rotate the secret GitLab (X-Gitlab-Token) or GitHub (HMAC) push hooks must present; returned once",
  tags: ["settings"],
  auth: { kind: "user", scope: "admin", role: "admin", project: { param: "projectId" } },
  params: z.object({ projectId: ZId, provider: z.enum(INBOUND_PROVIDERS) }),
  body: z.object({}),
  response: z.object({ provider: z.string(), secret: z.string(), url: z.string() }),
  status: 201,
  handler: async ({ db, env, params, actor, meta }) => {
    const result = await rotateInboundWebhookSecret(db, env.LORAPLANE_SECRET_KEY, params.projectId, params.provider, actor, meta);
    return { ...result, url: `${env.NEXTAUTH_URL.replace(/\/$/, "")}/api/v1/hooks/${params.provider}/${params.projectId}` };
  },
});

export const listAuditRoute = defineRoute({
  operationId: "listAudit",
  method: "get",
  path: "/api/v1/audit",
  summary: "Audit log, newest first, cursor-paginated",
  tags: ["audit"],
  auth: { kind: "user", scope: "runs:read", role: "viewer", project: { query: "projectId" } },
  query: z.object({ projectId: ZId.optional(), action: z.string().max(100).optional(), actorId: ZId.optional(), actorType: z.enum(["user", "token", "system"]).optional(), subjectType: z.string().max(100).optional(), subjectId: ZId.optional(), cursor: z.string().regex(/^\d{1,18}$/, "must be an audit entry id").optional(), limit: ZLimit }),
  response: page(ZAuditEntry),
  handler: async ({ db, query, projectId, principal, visibleProjectIds }) => {
    const { projectId: _p, ...filter } = query;
    // Global admins without a project filter also see entries that belong to no project (users, tokens).
    const scope = projectId ? { projectId } : principal.globalRole === "admin" && !principal.tokenProjectId ? {} : { projectIds: await visibleProjectIds("viewer") };
    return listAudit(db, { ...filter, ...scope });
  },
});
