import { OpenAPIRegistry, OpenApiGeneratorV31 } from "@asteasolutions/zod-to-openapi";
import type { z } from "./zod.ts";
import { API_ROUTES } from "../routes/index.ts";
import { ZErrorBody } from "./errors.ts";
import type { TRoute } from "./route.ts";

const ERRORS: Record<string, string> = {
  "400": "Invalid input; `error.issues` names each bad field",
  "401": "Not authenticated, or the token is unknown, revoked or expired",
  "403": "Authenticated but the role or token scope is insufficient, or a cross-site write",
  "404": "Not found, or not visible to the caller",
  "409": "Conflicts with the current state",
};

function security(route: TRoute): Record<string, string[]>[] {
  const a = route.def.auth;
  if (a.kind === "user") return [{ bearerToken: [] }, { sessionCookie: [] }];
  if (a.kind === "run") return [{ runToken: [] }];
  return [];
}

/** The OpenAPI 3.1 document, generated from the same zod schemas the route builder validates with. */
export function buildOpenApiDocument(serverUrl: string) {
  const registry = new OpenAPIRegistry();
  registry.registerComponent("securitySchemes", "bearerToken", { type: "http", scheme: "bearer", description: "API token (lp_…)" });
  registry.registerComponent("securitySchemes", "sessionCookie", { type: "apiKey", in: "cookie", name: "next-auth.session-token" });
  registry.registerComponent("securitySchemes", "runToken", { type: "http", scheme: "bearer", description: "Per-run ingest token given to the workload" });
  for (const route of API_ROUTES) {
    const d = route.def;
    const ok = String(d.status ?? 200);
    const auth = d.auth;
    registry.registerPath({
      method: d.method,
      path: d.path,
      operationId: d.operationId,
      summary: d.summary,
      tags: d.tags,
      security: security(route),
      "x-loraplane-auth": auth.kind === "user" ? { kind: auth.kind, role: auth.role ?? null, scope: auth.scope ?? null, globalRole: auth.globalRole ?? null } : { kind: auth.kind },
      request: {
        ...(d.params ? { params: d.params as z.ZodObject } : {}),
        ...(d.query ? { query: d.query as z.ZodObject } : {}),
        ...(d.headers ? { headers: d.headers as z.ZodObject } : {}),
        ...(d.body ? { body: { required: true, content: { "application/json": { schema: d.body } } } } : {}),
        ...(d.streamedBody ? { body: { required: true, description: d.streamedBody.description, content: { [d.streamedBody.mediaType]: { schema: d.streamedBody.schema } } } } : {}),
      },
      responses: {
        [ok]: { description: "Success", content: { [d.responseType ?? "application/json"]: { schema: d.response } } },
        ...Object.fromEntries(
          Object.entries({ ...ERRORS, ...d.errors }).map(([code, description]) => [code, { description, content: { "application/json": { schema: ZErrorBody } } }]),
        ),
      },
    });
  }
  const doc = new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: "3.1.0",
    info: { title: "Loraplane API", version: "1", description: "Fine-tune → eval → serve control plane. Authenticate with `Authorization: Bearer lp_…`." },
    servers: [{ url: serverUrl }],
  });
  // A path parameter is always required (OpenAPI 3.1 §4.8.12.2); a coerced zod number reads as optional to the generator.
  for (const item of Object.values(doc.paths ?? {})) {
    for (const op of Object.values(item as Record<string, { parameters?: { in: string; required?: boolean }[] }>)) {
      for (const p of op.parameters ?? []) if (p.in === "path") p.required = true;
    }
  }
  return doc;
}
