// Dataset upload, page and preview through the real route handlers, real Postgres and real files.
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { useTestDb } from "@loraplane/db/testing";
import { measureDatasetDigest } from "@loraplane/services";
import { beforeAll, describe, expect, it } from "vitest";
import { API_ROUTES } from "../../src/server/routes/index.ts";
import { BASE, call, configureEnv, makeProject, makeUser, type TFixture, tokenFor } from "./fixtures.ts";

const t = useTestDb("web-datasets");
const LIMIT = 200_000;
const DATA_DIR = "/tmp/loraplane-web-test";
const h = (operationId: string) => API_ROUTES.find((r) => r.def.operationId === operationId)!.handler;

let a: TFixture;
let b: TFixture;
let engineer = "";
let viewer = "";
let otherViewer = "";

const alpaca = (n: number, from = 0) => Array.from({ length: n }, (_, i) => JSON.stringify({ instruction: `Reverse "w${from + i}"`, input: "", output: `${from + i}w` })).join("\n") + "\n";
const chat = (n: number) =>
  Array.from({ length: n }, (_, i) => JSON.stringify({ messages: [{ role: "user", content: `你好 ${i}` }, { role: "assistant", content: `hello ${i}` }] })).join("\n") + "\n";

function upload(datasetId: string, token: string, files: Record<string, string>, extraHeaders: Record<string, string> = {}) {
  const form = new FormData();
  for (const [name, text] of Object.entries(files)) form.append("files", new Blob([text]), name);
  return h("uploadDatasetVersion")(
    new Request(`${BASE}/api/v1/datasets/${datasetId}/versions/upload`, { method: "POST", body: form, headers: { authorization: `Bearer ${token}`, ...extraHeaders } }),
  );
}
const auth = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });
const prefixOf = (projectId: string) => path.join(DATA_DIR, "projects", projectId, "datasets");
/** Every file under the project's dataset prefix (the temp uploads folder included). */
const filesUnder = (dir: string): string[] =>
  existsSync(dir) ? readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name)) : [];

async function newDataset(fx: TFixture, token: string, name: string) {
  const res = await call(h("createDataset"), "post", `/api/v1/projects/${fx.projectId}/datasets`, { ...auth(token), body: { name } });
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

beforeAll(async () => {
  configureEnv(t.url);
  process.env.DATASET_UPLOAD_MAX_BYTES = String(LIMIT);
  a = await makeProject(t.db, "ds-a");
  b = await makeProject(t.db, "ds-b");
  rmSync(prefixOf(a.projectId), { recursive: true, force: true });
  const member = async (fx: TFixture, email: string, role: "viewer" | "engineer") => {
    const u = await makeUser(t.db, email);
    await t.db.projectMember.create({ data: { projectId: fx.projectId, userId: u.id, role } });
    return (await tokenFor(t.db, u.id)).secret;
  };
  engineer = await member(a, "eng@ds.test", "engineer");
  viewer = await member(a, "viewer@ds.test", "viewer");
  otherViewer = await member(b, "viewer@other.test", "viewer");
});

describe("dataset upload", () => {
  it("stores a valid upload under the project's prefix with our digest, per-split rows, format and token histogram", async () => {
    const id = await newDataset(a, engineer, "instruct");
    const res = await upload(id, engineer, { "train.jsonl": alpaca(50), "validation.jsonl": alpaca(7, 100) });
    expect(res.status).toBe(201);
    const { version, deduplicated } = (await res.json()) as { version: Record<string, unknown> & { stats: { tokenizer: string; splits: Record<string, { rows: number; tokens: { counts: number[]; edges: number[] } }> } }; deduplicated: boolean };
    expect(deduplicated).toBe(false);
    expect(version).toMatchObject({ version: "v1", rowCount: 57, format: "alpaca", splits: { train: { rows: 50 }, validation: { rows: 7 } } });
    const dir = fileURLToPath(version.uri as string);
    expect(dir).toBe(path.join(prefixOf(a.projectId), id, version.sha256 as string));
    expect(readFileSync(path.join(dir, "train.jsonl"), "utf8")).toBe(alpaca(50));
    // The digest we computed while streaming is the one prepare measures from the files.
    const measured = await measureDatasetDigest(dir);
    expect(measured.ok && measured.sha256).toBe(version.sha256);
    expect(statSync(path.join(dir, "train.jsonl")).mode & 0o222).toBe(0);
    expect(version.stats.tokenizer).toMatch(/approx/);
    expect(version.stats.splits.train!.tokens.counts.reduce((x, y) => x + y, 0)).toBe(50);
    expect(filesUnder(path.join(prefixOf(a.projectId), ".uploads"))).toEqual([]);
    const audit = await t.db.auditLog.findFirst({ where: { action: "dataset.version.upload", subjectId: version.id as string }, select: { id: true } });
    expect(audit).not.toBeNull();
  });

  it("detects chat datasets (CJK-aware token estimate)", async () => {
    const id = await newDataset(a, engineer, "chatty");
    const res = await upload(id, engineer, { "train.jsonl": chat(4) });
    expect(res.status).toBe(201);
    const { version } = (await res.json()) as { version: { format: string; stats: { splits: { train: { tokens: { max: number } } } } } };
    expect(version.format).toBe("chat");
    // "你好 0\nhello 0": 2 CJK characters + ceil(10 other characters / 4).
    expect(version.stats.splits.train.tokens.max).toBe(5);
  });

  it("refuses a malformed line naming the file and line, and stores nothing", async () => {
    const id = await newDataset(a, engineer, "broken");
    const before = filesUnder(prefixOf(a.projectId));
    const bad = alpaca(2) + '{"instruction": "x", "output": \n' + alpaca(3);
    const res = await upload(id, engineer, { "train.jsonl": alpaca(5), "eval.jsonl": bad });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { message: string; issues: { path: string }[] } };
    expect(body.error.message).toMatch(/^eval\.jsonl line 3: malformed JSON/);
    expect(body.error.issues[0]!.path).toBe("eval.jsonl:3");
    expect(await t.db.datasetVersion.count({ where: { datasetId: id } })).toBe(0);
    expect(filesUnder(prefixOf(a.projectId))).toEqual(before);

    const wrongShape = await upload(id, engineer, { "train.jsonl": alpaca(1) + JSON.stringify({ prompt: "p" }) + "\n" });
    expect(((await wrongShape.json()) as { error: { message: string } }).error.message).toMatch(/train\.jsonl line 2: row is neither Alpaca/);
    const mixed = await upload(id, engineer, { "train.jsonl": alpaca(2), "validation.jsonl": chat(2) });
    expect(mixed.status).toBe(400);
    expect(((await mixed.json()) as { error: { message: string } }).error.message).toMatch(/Alpaca but validation\.jsonl is chat/);
    const notJsonl = await upload(id, engineer, { "train.csv": "a,b\n" });
    expect(notJsonl.status).toBe(400);
    expect(await t.db.datasetVersion.count({ where: { datasetId: id } })).toBe(0);
    expect(filesUnder(prefixOf(a.projectId))).toEqual(before);
  });

  it("answers 413 naming the limit past DATASET_UPLOAD_MAX_BYTES, declared or streamed, and stores nothing", async () => {
    const id = await newDataset(a, engineer, "huge");
    const before = filesUnder(prefixOf(a.projectId));
    const big = alpaca(Math.ceil((LIMIT * 1.5) / 40));
    expect(big.length).toBeGreaterThan(LIMIT);
    // Streamed (FormData bodies carry no Content-Length): cut off while reading.
    const streamed = await upload(id, engineer, { "train.jsonl": big });
    expect(streamed.status).toBe(413);
    expect(((await streamed.json()) as { error: { message: string } }).error.message).toContain(`limit of ${LIMIT} bytes (DATASET_UPLOAD_MAX_BYTES)`);
    // Declared: refused before a byte is read.
    const declared = await upload(id, engineer, { "train.jsonl": alpaca(1) }, { "content-length": String(LIMIT + 1) });
    expect(declared.status).toBe(413);
    expect(await t.db.datasetVersion.count({ where: { datasetId: id } })).toBe(0);
    expect(filesUnder(prefixOf(a.projectId))).toEqual(before);
  });

  it("makes every upload a new immutable version, and answers identical content with the existing one", async () => {
    const id = await newDataset(a, engineer, "versions");
    const first = (await (await upload(id, engineer, { "train.jsonl": alpaca(10) })).json()) as { version: { id: string; version: string; sha256: string; uri: string } };
    const second = (await (await upload(id, engineer, { "train.jsonl": alpaca(11) })).json()) as { version: { id: string; version: string; sha256: string } };
    expect([first.version.version, second.version.version]).toEqual(["v1", "v2"]);
    expect(second.version.sha256).not.toBe(first.version.sha256);
    const again = await upload(id, engineer, { "train.jsonl": alpaca(10) });
    expect(again.status).toBe(201);
    expect(await again.json()).toMatchObject({ deduplicated: true, version: { id: first.version.id, version: "v1" } });
    expect(await t.db.datasetVersion.count({ where: { datasetId: id } })).toBe(2);
    expect(readFileSync(path.join(fileURLToPath(first.version.uri), "train.jsonl"), "utf8")).toBe(alpaca(10));
    // A registration cannot take an existing version's name either.
    const taken = await call(h("createDatasetVersion"), "post", `/api/v1/datasets/${id}/versions`, {
      ...auth(engineer),
      body: { version: "v2", uri: first.version.uri, sha256: first.version.sha256, rowCount: 10, format: "alpaca", splits: {} },
    });
    expect(taken.status).toBe(409);
    const page = (await (await call(h("getDataset"), "get", `/api/v1/datasets/${id}`, auth(viewer))).json()) as { versions: { version: string }[] };
    expect(page.versions.map((v) => v.version)).toEqual(["v2", "v1"]);
  });

  it("pages a split's rows on the server", async () => {
    const id = await newDataset(a, engineer, "paged");
    const text = alpaca(20) + "\n" + alpaca(25, 20);
    const { version } = (await (await upload(id, engineer, { "train.jsonl": text, "validation.jsonl": alpaca(3, 500) })).json()) as { version: { id: string } };
    const page = async (q: string) => {
      const res = await call(h("previewDatasetRows"), "get", `/api/v1/datasets/${id}/versions/${version.id}/rows?${q}`, auth(viewer));
      return { status: res.status, body: (await res.json()) as { total: number; hasMore: boolean; rows: { line: number; row: { output: string } }[]; error?: { message: string } } };
    };
    const first = await page("split=train&offset=0&limit=10");
    expect(first.body).toMatchObject({ total: 45, hasMore: true });
    expect(first.body.rows.map((r) => r.row.output)).toEqual(Array.from({ length: 10 }, (_, i) => `${i}w`));
    // The blank line 21 is skipped: row 20 is on line 22.
    const second = await page("split=train&offset=20&limit=10");
    expect(second.body.rows[0]).toEqual({ line: 22, row: { instruction: 'Reverse "w20"', input: "", output: "20w" } });
    const last = await page("split=train&offset=40&limit=10");
    expect(last.body.rows).toHaveLength(5);
    expect(last.body.hasMore).toBe(false);
    expect((await page("split=validation")).body.rows.map((r) => r.row.output)).toEqual(["500w", "501w", "502w"]);
    const unknown = await page("split=../../etc/passwd");
    expect(unknown.status).toBe(400);
    expect(unknown.body.error!.message).toMatch(/has no split/);
    expect((await page("split=train&limit=1000")).status).toBe(400);
  });

  it("authorises by project role: another project's viewer sees nothing, a viewer cannot upload", async () => {
    const id = await newDataset(a, engineer, "private");
    const { version } = (await (await upload(id, engineer, { "train.jsonl": alpaca(3) })).json()) as { version: { id: string } };
    expect((await call(h("getDataset"), "get", `/api/v1/datasets/${id}`, auth(viewer))).status).toBe(200);
    expect((await call(h("getDataset"), "get", `/api/v1/datasets/${id}`, auth(otherViewer))).status).toBe(404);
    expect((await call(h("previewDatasetRows"), "get", `/api/v1/datasets/${id}/versions/${version.id}/rows`, auth(otherViewer))).status).toBe(404);
    // Another project's version addressed through this project's dataset is not found either.
    const foreign = await t.db.datasetVersion.findFirstOrThrow({ where: { dataset: { projectId: b.projectId } }, select: { id: true } });
    expect((await call(h("previewDatasetRows"), "get", `/api/v1/datasets/${id}/versions/${foreign.id}/rows`, auth(viewer))).status).toBe(404);
    expect((await upload(id, otherViewer, { "train.jsonl": alpaca(1) })).status).toBe(404);
    expect((await upload(id, viewer, { "train.jsonl": alpaca(1) })).status).toBe(403);
    expect((await call(h("getDataset"), "get", `/api/v1/datasets/${id}`)).status).toBe(401);
    expect(await t.db.datasetVersion.count({ where: { datasetId: id } })).toBe(1);
  });
});
