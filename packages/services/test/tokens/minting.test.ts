import { describe, expect, it } from "vitest";
import { checkTokenMinting, ForbiddenError } from "../../src/index.ts";

describe("checkTokenMinting", () => {
  const session = { via: "session" as const, scopes: null, tokenProjectId: null };
  const bound = { via: "token" as const, scopes: ["admin"], tokenProjectId: "p1" };
  const narrow = { via: "token" as const, scopes: ["runs:write"], tokenProjectId: null };

  it("sessions are not limited by it", () => {
    expect(() => checkTokenMinting(session, { scopes: ["admin"], projectId: null })).not.toThrow();
  });
  it("a project-bound token mints only tokens bound to its project", () => {
    expect(() => checkTokenMinting(bound, { scopes: ["runs:read"], projectId: null })).toThrow(ForbiddenError);
    expect(() => checkTokenMinting(bound, { scopes: ["runs:read"], projectId: "p2" })).toThrow(/same project/);
    expect(() => checkTokenMinting(bound, { scopes: ["admin"], projectId: "p1" })).not.toThrow();
  });
  it("no token grants a scope it does not hold", () => {
    expect(() => checkTokenMinting(narrow, { scopes: ["runs:read"], projectId: null })).not.toThrow();
    expect(() => checkTokenMinting(narrow, { scopes: ["admin"], projectId: null })).toThrow(/admin/);
    expect(() => checkTokenMinting(narrow, { scopes: ["deployments:write"], projectId: null })).toThrow(/deployments:write/);
  });
});
