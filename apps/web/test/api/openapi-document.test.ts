// The generated OpenAPI document (issue 17 item 12): valid OpenAPI 3.1 by a real validator, every `pattern` a valid
// JSON-Schema (ECMA-262, no flags) regex, and usable: a TypeScript client generated from it typechecks a small
// program that uses it (and refuses one that sends an unknown field).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Validator } from "@seriousme/openapi-schema-validator";
import openapiTS, { astToString } from "openapi-typescript";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { buildOpenApiDocument } from "../../src/server/api/openapi.ts";

const doc = buildOpenApiDocument("http://127.0.0.1:3000") as unknown as Record<string, unknown>;

function collectPatterns(node: unknown, where: string, out: { where: string; pattern: string }[]) {
  if (!node || typeof node !== "object") return out;
  for (const [k, v] of Object.entries(node)) {
    if (k === "pattern" && typeof v === "string") out.push({ where, pattern: v });
    else collectPatterns(v, `${where}/${k}`, out);
  }
  return out;
}

describe("OpenAPI document", () => {
  it("is a valid OpenAPI 3.1 document", async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc));
    expect(validator.version).toBe("3.1");
    expect(result.errors ?? [], JSON.stringify(result.errors, null, 1)?.slice(0, 4000)).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it("has only flag-free ECMA-262 patterns (no `/i` suffixes from JavaScript regexes)", () => {
    const patterns = collectPatterns(doc, "", []);
    expect(patterns.length).toBeGreaterThan(5);
    for (const { where, pattern } of patterns) {
      expect(() => new RegExp(pattern, "u"), `${where}: ${pattern}`).not.toThrow();
      expect(pattern, where).not.toMatch(/\/[dgimsuvy]+$/);
    }
    // The commit SHA pattern accepts upper-case hex like the route does.
    const commit = patterns.find((p) => p.where.includes("/api/v1/pipelines/{pipelineId}/runs") && p.where.includes("gitCommit"));
    expect(commit).toBeDefined();
    expect(new RegExp(commit!.pattern, "u").test("ABCDEF0123")).toBe(true);
  });

  it("generates a TypeScript client that typechecks a program using it", async () => {
    const source = astToString(await openapiTS(structuredClone(doc) as never));
    const dir = mkdtempSync(path.join(tmpdir(), "lp-openapi-client-"));
    try {
      writeFileSync(path.join(dir, "api.ts"), source);
      writeFileSync(
        path.join(dir, "use.ts"),
        `import type { paths } from "./api";
type Trigger = paths["/api/v1/pipelines/{pipelineId}/runs"]["post"];
type TriggerBody = NonNullable<Trigger["requestBody"]>["content"]["application/json"];
export const body: TriggerBody = { gitRef: "main", params: { "training.epochs": 2 } };
export const path: Trigger["parameters"]["path"] = { pipelineId: "p1" };
export const created: Trigger["responses"]["201"]["content"]["application/json"] = { run: { id: "r", number: 1, status: "queued" }, created: true };
export const reused: Trigger["responses"]["422"]["content"]["application/json"]["error"]["code"] = "idempotency_key_reused";
type Samples = paths["/api/v1/runs/{runId}/samples"]["get"]["responses"]["200"]["content"]["application/json"];
export const next: Samples["nextCursor"] = null;
// @ts-expect-error bodies are closed: an unknown field does not typecheck
export const bad: TriggerBody = { gitRef: "main", expiresInDays: 3 };
`,
      );
      const program = ts.createProgram([path.join(dir, "use.ts")], { strict: true, noEmit: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler, skipLibCheck: true, types: [] });
      const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => `${d.file?.fileName ?? ""}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`);
      expect(diagnostics).toEqual([]);
      expect(source).toContain('"/api/v1/pipelines/{pipelineId}/runs"');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
