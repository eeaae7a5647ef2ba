// `loraplane dataset push ./dir` run as a user runs it (a child process) against the real routes served over HTTP,
// with the request body streamed through to the handler as a server would.
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { useTestDb } from "@loraplane/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { API_ROUTES } from "../../src/server/routes/index.ts";
import { configureEnv, makeProject, makeUser, type TFixture, tokenFor } from "../api/fixtures.ts";

const t = useTestDb("web-cli-dataset");
const BIN = path.resolve(import.meta.dirname, "../../bin/loraplane.mjs");
let server: Server;
let url = "";
let token = "";
let fx: TFixture;
const tmp = mkdtempSync(path.join(os.tmpdir(), "lp-cli-ds-"));

const ROUTES = [...API_ROUTES]
  .sort((a, b) => (a.def.path.match(/\{/g)?.length ?? 0) - (b.def.path.match(/\{/g)?.length ?? 0))
  .map((r) => ({ route: r, regex: new RegExp(`^${r.def.path.replace(/\{\w+\}/g, "[^/]+")}/?$`) }));

function serve(): Promise<void> {
  server = createServer((req, res) => {
    void (async () => {
      const pathname = new URL(req.url!, url).pathname;
      const found = ROUTES.find((r) => r.route.def.method === req.method!.toLowerCase() && r.regex.test(pathname));
      if (!found) {
        res.writeHead(404).end();
        return;
      }
      const headers = new Headers();
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers.set(k, v);
      const body = req.method === "GET" ? undefined : (Readable.toWeb(req) as ReadableStream<Uint8Array>);
      const response = await found.route.handler(new Request(new URL(req.url!, url), { method: req.method, headers, body, duplex: "half" } as RequestInit));
      res.writeHead(response.status, Object.fromEntries(response.headers));
      res.end(Buffer.from(await response.arrayBuffer()));
    })();
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
}

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { NODE_ENV: "test", PATH: process.env.PATH, DATABASE_URL: t.url, LORAPLANE_URL: url, LORAPLANE_TOKEN: token, LORAPLANE_PROJECT: "cli-ds" }, timeout: 60_000 },
      (error, stdout, stderr) => resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const rows = (n: number, tag = "") => Array.from({ length: n }, (_, i) => JSON.stringify({ instruction: `q${i}${tag}`, output: `a${i}` })).join("\n") + "\n";
function folder(name: string, files: Record<string, string>): string {
  const dir = path.join(tmp, name);
  mkdirSync(dir, { recursive: true });
  for (const [f, text] of Object.entries(files)) writeFileSync(path.join(dir, f), text);
  return dir;
}

beforeAll(async () => {
  configureEnv(t.url);
  fx = await makeProject(t.db, "cli-ds");
  const engineer = await makeUser(t.db, "eng@cli-ds.test", "engineer");
  await t.db.projectMember.create({ data: { projectId: fx.projectId, userId: engineer.id, role: "engineer" } });
  token = (await tokenFor(t.db, engineer.id)).secret;
  await serve();
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => {
  server?.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe("loraplane dataset push", () => {
  it("creates the dataset, uploads the folder's splits as v1, then v2; the same folder again changes nothing", async () => {
    const dir = folder("first", { "train.jsonl": rows(30), "eval.jsonl": rows(5, "e"), "README.md": "not uploaded" });
    const first = await cli(["dataset", "push", dir, "--name", "support-chats"]);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/created dataset support-chats/);
    expect(first.stdout).toMatch(/pushed support-chats v1: 35 rows \(train 30, eval 5\), alpaca, sha256 [0-9a-f]{64}/);
    const v1 = await t.db.datasetVersion.findFirstOrThrow({ where: { dataset: { projectId: fx.projectId, name: "support-chats" } }, select: { uri: true, splits: true } });
    expect(readFileSync(path.join(fileURLToPath(v1.uri), "eval.jsonl"), "utf8")).toBe(rows(5, "e"));

    const again = await cli(["dataset", "push", dir, "--name", "support-chats"]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/unchanged: support-chats v1 already has this content/);

    const second = await cli(["dataset", "push", folder("second", { "train.jsonl": rows(31) }), "--name", "support-chats", "--json"]);
    expect(second.code).toBe(0);
    expect(JSON.parse(second.stdout)).toMatchObject({ deduplicated: false, version: { version: "v2", rowCount: 31 } });
    const list = await cli(["dataset", "list"]);
    expect(list.stdout).toMatch(/support-chats\s+2\s/);
  });

  it("exits 2 naming the file and line of a malformed row, and when the folder has no .jsonl files", async () => {
    const bad = await cli(["dataset", "push", folder("bad", { "train.jsonl": rows(3) + "{not json}\n" }), "--name", "broken"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/400 validation_failed: train\.jsonl line 4: malformed JSON/);
    expect(await t.db.datasetVersion.count({ where: { dataset: { name: "broken" } } })).toBe(0);
    const empty = await cli(["dataset", "push", folder("empty", { "notes.txt": "x" }), "--name", "broken"]);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/has no <split>\.jsonl files/);
  });
});
