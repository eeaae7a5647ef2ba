// `loraplane dataset push ./dir` run as a user runs it (a child process) against the real routes served over HTTP,
// with the request body streamed through to the handler as a server would.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { useTestDb } from "@loraplane/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { configureEnv, makeProject, makeUser, type TFixture, tokenFor } from "../api/fixtures.ts";
import { cliRunner, serveApi, type TApiServer } from "./cli-harness.ts";

const t = useTestDb("web-cli-dataset");
let server: TApiServer;
let token = "";
let fx: TFixture;
const tmp = mkdtempSync(path.join(os.tmpdir(), "lp-cli-ds-"));
const cli = cliRunner(() => ({ DATABASE_URL: t.url, LORAPLANE_URL: server.url, LORAPLANE_TOKEN: token, LORAPLANE_PROJECT: "cli-ds" }));


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
  server = await serveApi();
});

afterAll(async () => {
  await server?.close();
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
    // Four CLI processes, each starting tsx: tens of seconds on a loaded 2-core machine (a timing tolerance only).
  }, 180_000);

  it("exits 2 naming the file and line of a malformed row, and when the folder has no .jsonl files", async () => {
    const bad = await cli(["dataset", "push", folder("bad", { "train.jsonl": rows(3) + "{not json}\n" }), "--name", "broken"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/400 validation_failed: train\.jsonl line 4: malformed JSON/);
    expect(await t.db.datasetVersion.count({ where: { dataset: { name: "broken" } } })).toBe(0);
    const empty = await cli(["dataset", "push", folder("empty", { "notes.txt": "x" }), "--name", "broken"]);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/has no <split>\.jsonl files/);
  }, 180_000);
});
