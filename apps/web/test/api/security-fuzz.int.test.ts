// Issue #11 suite 2: hostile JSON over every operation that takes a JSON body (from the OpenAPI document), sent as a
// global admin with every scope so that nothing is refused before the body is read: prototype-pollution keys at the
// top and inside every declared field, hostile scalars, pathological nesting, broken JSON. Afterwards
// Object.prototype is unchanged; every answer is a 4xx naming a field (or a documented 2xx), never a 5xx; and the
// server still answers.
import { useTestDb } from "@loraplane/db/testing";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { buildOpenApiDocument } from "../../src/server/api/openapi.ts";
import { serverContext } from "../../src/server/context.ts";
import { API_ROUTES } from "../../src/server/routes/index.ts";
import { BASE, call, configureEnv, makeProject, makeUser, type TFixture, tokenFor } from "./fixtures.ts";

const t = useTestDb("web-sec-fuzz");
type TOp = { method: string; path: string; operationId: string; properties: string[] };
let fx: TFixture;
let token = "";
// Built at collection time (the document is pure), so that each operation is its own test.
const doc = buildOpenApiDocument(BASE) as unknown as {
  paths: Record<string, Record<string, { operationId: string; requestBody?: { content: Record<string, { schema: { properties?: Record<string, unknown> } }> } }>>;
};
const ops: TOp[] = Object.entries(doc.paths).flatMap(([path, methods]) =>
  Object.entries(methods)
    .filter(([, op]) => op.requestBody?.content["application/json"])
    .map(([method, op]) => ({ method, path, operationId: op.operationId, properties: Object.keys(op.requestBody!.content["application/json"]!.schema.properties ?? {}) })),
);
const protoNames = () => Object.getOwnPropertyNames(Object.prototype).sort();
const baseline = protoNames();

const handlerOf = (operationId: string) => API_ROUTES.find((r) => r.def.operationId === operationId)!.handler;

function concretePath(path: string): string {
  const byCollection: Record<string, string> = { "model-versions": fx.modelVersionId, environments: fx.environmentId, deployments: fx.deploymentId, approvals: fx.approvalId, webhooks: fx.webhookId };
  return path.replace(/\{(\w+)\}/g, (_m, name: string, offset: number) => {
    if (name === "id") return byCollection[path.slice(0, offset).split("/").filter(Boolean).pop()!] ?? fx.projectId;
    return ({ ...fx, index: "0", alias: "champion", provider: "gitlab" } as unknown as Record<string, string>)[name] ?? fx.projectId;
  });
}

/** Sends `raw` byte for byte (a JS object literal would turn "__proto__" into a prototype, not a key). */
function sendRaw(op: TOp, raw: string) {
  return handlerOf(op.operationId)(
    new Request(BASE + concretePath(op.path), { method: op.method.toUpperCase(), headers: { "content-type": "application/json", authorization: `Bearer ${token}` }, body: raw }),
  );
}

const HOSTILE_VALUES: string[] = [
  `{"__proto__":{"polluted":"yes"}}`,
  `{"constructor":{"prototype":{"polluted":"yes"}}}`,
  `{"prototype":{"polluted":"yes"}}`,
  "null",
  "[]",
  `"a string"`,
  "1e309",
  "-0",
  "18446744073709551616",
  `"${"x".repeat(100_000)}"`,
  `"\\u0000\\ud800"`,
  `[${"[".repeat(200)}${"]".repeat(200)}]`,
  `{"a":${'{"a":'.repeat(200)}1${"}".repeat(200)}}`,
];

const BODIES = (properties: string[]): { name: string; raw: string; proto: boolean }[] => [
  { name: "top-level __proto__", raw: `{"__proto__":{"polluted":"yes"}}`, proto: true },
  { name: "top-level constructor.prototype", raw: `{"constructor":{"prototype":{"polluted":"yes"}}}`, proto: false },
  { name: "broken JSON", raw: `{"a":`, proto: false },
  { name: "not an object", raw: `[1,2,3]`, proto: false },
  { name: "deep nesting", raw: "[".repeat(5000) + "]".repeat(5000), proto: false },
  ...properties.flatMap((p) => HOSTILE_VALUES.map((v, i) => ({ name: `${p} = hostile #${i}`, raw: `{"${p}":${v}}`, proto: v.includes("__proto__") }))),
  ...properties.map((p) => ({ name: `${p}.__proto__ in an array`, raw: `{"${p}":[{"__proto__":{"polluted":"yes"}}]}`, proto: true })),
];

beforeAll(async () => {
  configureEnv(t.url);
  fx = await makeProject(t.db, "fuzz-a");
  const root = await makeUser(t.db, "root@fuzz.test", "admin");
  token = (await tokenFor(t.db, root.id)).secret;
});

afterEach(() => {
  for (const name of protoNames()) if (!baseline.includes(name)) delete (Object.prototype as Record<string, unknown>)[name];
});

afterAll(async () => {
  await serverContext().queue().close();
});

describe("hostile JSON over every JSON body", () => {
  it("covers every operation with a JSON body", () => {
    expect(ops.length).toBeGreaterThan(25);
  });

  for (const op of ops) {
    it(`${op.method.toUpperCase()} ${op.path}: never a 5xx, Object.prototype unchanged, 4xx name a field, __proto__ refused with its path`, async () => {
      const failures: string[] = [];
      for (const body of BODIES(op.properties)) {
        const res = await sendRaw(op, body.raw);
        const where = `${op.method.toUpperCase()} ${op.path} [${body.name}] → ${res.status}`;
        const text = await res.text();
        if (res.status >= 500) failures.push(`${where}: ${text.slice(0, 200)}`);
        if (protoNames().join() !== baseline.join() || ({} as Record<string, unknown>).polluted !== undefined) {
          failures.push(`${where}: polluted Object.prototype`);
          for (const name of protoNames()) if (!baseline.includes(name)) delete (Object.prototype as Record<string, unknown>)[name];
        }
        if (res.status >= 400 && res.status < 500) {
          const error = (JSON.parse(text) as { error: { code: string; issues?: { path: string }[] } }).error;
          const named = (error.issues ?? []).some((i) => typeof i.path === "string") || ["invalid_json", "payload_too_large", "not_found", "conflict", "unauthorized", "invalid_token", "forbidden"].includes(error.code);
          if (!named) failures.push(`${where}: 4xx without a field path (${error.code})`);
          if (body.proto && res.status === 400 && !(error.issues ?? []).some((i) => i.path.includes("__proto__"))) failures.push(`${where}: __proto__ not named`);
        }
        if (body.proto && res.status < 300) failures.push(`${where}: a __proto__ key was accepted`);
      }
      expect(failures).toEqual([]);
    });
  }

  it("the server still answers afterwards", async () => {
    const res = await call(handlerOf("getMe"), "get", "/api/v1/me", { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(protoNames()).toEqual(baseline);
  });
});
