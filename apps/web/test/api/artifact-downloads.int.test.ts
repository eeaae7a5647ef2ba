// Artifact downloads (issue 15 item 5, issue 17 "download the adapter"): a folder artifact (adapter, checkpoint)
// arrives as a streamed .tar.gz whose MANIFEST.sha256 matches the extracted files (extracted by the system's GNU tar),
// symlinks never lead out of the folder, a file answers Range requests, a cancelled download closes what it opened,
// and only members of the artifact's project get anything.
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { useTestDb } from "@loraplane/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serverContext } from "../../src/server/context.ts";
import { API_ROUTES } from "../../src/server/routes/index.ts";
import { call, configureEnv, makeProject, makeUser, type TFixture, tokenFor } from "./fixtures.ts";

const t = useTestDb("web-artifact-downloads");
const h = (operationId: string) => API_ROUTES.find((r) => r.def.operationId === operationId)!.handler;
const sha256 = (data: Buffer | string) => createHash("sha256").update(data).digest("hex");
const bearer = (secret: string) => ({ authorization: `Bearer ${secret}` });
const tmp = mkdtempSync(path.join(os.tmpdir(), "lp-artifacts-"));

let a: TFixture;
let b: TFixture;
let viewerA = "";
let memberOfB = "";
let adapterDir = "";
let adapterId = "";
let bigFileId = "";
let weights: Buffer;
let big: Buffer;
const LONG_NAME = `${"deeply-nested-folder-name/".repeat(5)}tokenizer-é-${"x".repeat(60)}.json`;

beforeAll(async () => {
  configureEnv(t.url);
  const dataDir = process.env.LORAPLANE_DATA_DIR!;
  a = await makeProject(t.db, "art-a");
  b = await makeProject(t.db, "art-b");
  const viewer = await makeUser(t.db, "viewer@art.test", "viewer");
  const other = await makeUser(t.db, "other@art.test", "viewer");
  await t.db.projectMember.create({ data: { projectId: a.projectId, userId: viewer.id, role: "viewer" } });
  await t.db.projectMember.create({ data: { projectId: b.projectId, userId: other.id, role: "engineer" } });
  viewerA = (await tokenFor(t.db, viewer.id)).secret;
  memberOfB = (await tokenFor(t.db, other.id)).secret;

  const runDir = path.join(dataDir, "runs", a.runId, "train-1", "output");
  adapterDir = path.join(runDir, "adapter");
  mkdirSync(path.join(adapterDir, "nested", "sub"), { recursive: true });
  mkdirSync(path.join(adapterDir, "empty"), { recursive: true });
  mkdirSync(path.join(adapterDir, path.dirname(LONG_NAME)), { recursive: true });
  weights = randomBytes(3 * 1024 * 1024 + 17);
  writeFileSync(path.join(adapterDir, "adapter_model.safetensors"), weights);
  writeFileSync(path.join(adapterDir, "adapter_config.json"), '{"r":16,"lora_alpha":32}\n');
  writeFileSync(path.join(adapterDir, "manifest.json"), '{"files":[]}\n');
  writeFileSync(path.join(adapterDir, "nested", "sub", "notes.txt"), "nested file\n");
  writeFileSync(path.join(adapterDir, LONG_NAME), '{"long":true}\n');
  writeFileSync(path.join(adapterDir, "run.sh"), "#!/bin/sh\necho hi\n");
  chmodSync(path.join(adapterDir, "run.sh"), 0o755);
  // Another run's file, a host file, a link inside the folder, a link to a folder, a dangling link and a fifo.
  const otherRunDir = path.join(dataDir, "runs", b.runId, "train-1", "output");
  mkdirSync(otherRunDir, { recursive: true });
  writeFileSync(path.join(otherRunDir, "secret.bin"), "other tenant's weights");
  writeFileSync(path.join(runDir, "outside-folder.txt"), "same run, outside the artifact");
  symlinkSync(path.join(otherRunDir, "secret.bin"), path.join(adapterDir, "other-run.bin"));
  symlinkSync("/etc/passwd", path.join(adapterDir, "passwd"));
  symlinkSync("../outside-folder.txt", path.join(adapterDir, "up.txt"));
  symlinkSync("adapter_config.json", path.join(adapterDir, "config-link.json"));
  symlinkSync(".", path.join(adapterDir, "loop"));
  symlinkSync("does-not-exist", path.join(adapterDir, "dangling"));
  execFileSync("mkfifo", [path.join(adapterDir, "pipe")]);
  adapterId = (await t.db.artifact.create({ data: { runId: a.runId, kind: "adapter", uri: pathToFileURL(adapterDir).href, sha256: sha256('{"files":[]}\n') }, select: { id: true } })).id;

  big = randomBytes(256 * 1024 + 123);
  writeFileSync(path.join(runDir, "eval_report.json"), big);
  bigFileId = (await t.db.artifact.create({ data: { runId: a.runId, kind: "eval_report", uri: pathToFileURL(path.join(runDir, "eval_report.json")).href }, select: { id: true } })).id;
});

afterAll(async () => {
  await serverContext().queue().close();
  rmSync(tmp, { recursive: true, force: true });
});

const download = (id: string, token: string, headers: Record<string, string> = {}) => call(h("downloadArtifact"), "get", `/api/v1/artifacts/${id}/download`, { headers: { ...bearer(token), ...headers } });

/** Every regular file under `dir`, as relative paths. */
function filesUnder(dir: string, rel = ""): string[] {
  return readdirSync(path.join(dir, rel), { withFileTypes: true }).flatMap((e) => {
    const r = rel ? `${rel}/${e.name}` : e.name;
    return e.isDirectory() ? filesUnder(dir, r) : [r];
  });
}

describe("folder artifacts download as .tar.gz with a sha256 manifest", () => {
  it("extracts with GNU tar into the folder's files, each matching MANIFEST.sha256; symlinks never leave the folder", async () => {
    const res = await download(adapterId, viewerA);
    expect(res.status, await res.clone().text().catch(() => "")).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/gzip");
    expect(res.headers.get("content-disposition")).toContain('filename="adapter.tar.gz"');
    const archive = path.join(tmp, "adapter.tar.gz");
    writeFileSync(archive, Buffer.from(await res.arrayBuffer()));
    const out = path.join(tmp, "extracted");
    mkdirSync(out);
    execFileSync("tar", ["-xzf", archive, "-C", out]);

    const manifest = JSON.parse(readFileSync(path.join(out, "archive-manifest.json"), "utf8")) as {
      artifact: { id: string; kind: string; sha256: string };
      files: { path: string; size: number; sha256: string }[];
      skipped: { path: string; reason: string }[];
      totalBytes: number;
    };
    expect(manifest.artifact).toMatchObject({ id: adapterId, kind: "adapter" });
    const extracted = filesUnder(out).filter((f) => f !== "MANIFEST.sha256" && f !== "archive-manifest.json").sort();
    expect(manifest.files.map((f) => f.path).sort()).toEqual(extracted);
    expect(extracted).toEqual(
      ["adapter_config.json", "adapter_model.safetensors", "config-link.json", LONG_NAME, "manifest.json", "nested/sub/notes.txt", "run.sh"].sort(),
    );
    for (const f of manifest.files) {
      const bytes = readFileSync(path.join(out, f.path));
      expect(sha256(bytes), f.path).toBe(f.sha256);
      expect(bytes.length, f.path).toBe(f.size);
    }
    expect(readFileSync(path.join(out, "adapter_model.safetensors")).equals(weights)).toBe(true);
    expect(manifest.totalBytes).toBe(manifest.files.reduce((s, f) => s + f.size, 0));
    // The system's own checker agrees with MANIFEST.sha256, and it lists every archived file.
    const check = execFileSync("sha256sum", ["--strict", "-c", "MANIFEST.sha256"], { cwd: out, encoding: "utf8" });
    expect(check.trim().split("\n")).toHaveLength(manifest.files.length);
    expect(statSync(path.join(out, "empty")).isDirectory()).toBe(true);
    expect(statSync(path.join(out, "run.sh")).mode & 0o100).toBe(0o100);

    // A link inside the folder is archived as the file it names; links out of the folder are not followed.
    expect(readFileSync(path.join(out, "config-link.json"), "utf8")).toBe('{"r":16,"lora_alpha":32}\n');
    const skipped = Object.fromEntries(manifest.skipped.map((s) => [s.path, s.reason]));
    expect(skipped).toEqual({
      "other-run.bin": expect.stringContaining("outside the artifact folder"),
      passwd: expect.stringContaining("outside the artifact folder"),
      "up.txt": expect.stringContaining("outside the artifact folder"),
      loop: expect.stringContaining("symlink to a folder"),
      dangling: expect.stringContaining("dangling"),
      pipe: expect.stringContaining("not a regular file"),
    });
    const everything = filesUnder(out).map((f) => readFileSync(path.join(out, f), "utf8")).join("\n");
    expect(everything).not.toContain("other tenant's weights");
    expect(everything).not.toContain("root:x:0:0");
    expect(everything).not.toContain("same run, outside the artifact");
  });

  it("lists folders as downloadable archives", async () => {
    const res = await call(h("listRunArtifacts"), "get", `/api/v1/runs/${a.runId}/artifacts`, { headers: bearer(viewerA) });
    const items = (await res.json()).items as { id: string; downloadable: boolean; archive: boolean }[];
    expect(items.find((i) => i.id === adapterId)).toMatchObject({ downloadable: true, archive: true });
    expect(items.find((i) => i.id === bigFileId)).toMatchObject({ downloadable: true, archive: false });
    // The fixture's adapter points outside the run's directory: not downloadable, as before.
    expect(items.find((i) => i.id === a.artifactId)).toMatchObject({ downloadable: false, archive: false });
  });

  it("a cancelled folder download closes the file it was reading", async () => {
    const dir = path.join(process.env.LORAPLANE_DATA_DIR!, "runs", a.runId, "train-2", "checkpoint-100");
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, "optimizer.pt");
    writeFileSync(file, randomBytes(24 * 1024 * 1024));
    const id = (await t.db.artifact.create({ data: { runId: a.runId, kind: "checkpoint", uri: pathToFileURL(dir).href }, select: { id: true } })).id;
    const openOnFile = () => readdirSync("/proc/self/fd").filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`) === file;
      } catch {
        return false;
      }
    }).length;
    const res = await download(id, viewerA);
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(first.done).toBe(false);
    expect(openOnFile()).toBe(1);
    await reader.cancel();
    await new Promise((r) => setTimeout(r, 200));
    expect(openOnFile()).toBe(0);
  });
});

describe("single files answer Range requests", () => {
  it("serves the first bytes, a suffix, an open range; 416 past the end; a stale If-Range gets the whole file", async () => {
    const whole = await download(bigFileId, viewerA);
    expect(whole.status).toBe(200);
    expect(whole.headers.get("accept-ranges")).toBe("bytes");
    expect(whole.headers.get("content-length")).toBe(String(big.length));
    const etag = whole.headers.get("etag")!;
    expect(etag).toMatch(/^"[0-9a-f]+-[0-9a-f]+"$/);
    expect(Buffer.from(await whole.arrayBuffer()).equals(big)).toBe(true);

    const head = await download(bigFileId, viewerA, { range: "bytes=0-99" });
    expect(head.status).toBe(206);
    expect(head.headers.get("content-range")).toBe(`bytes 0-99/${big.length}`);
    expect(head.headers.get("content-length")).toBe("100");
    expect(Buffer.from(await head.arrayBuffer()).equals(big.subarray(0, 100))).toBe(true);

    const suffix = await download(bigFileId, viewerA, { range: "bytes=-500" });
    expect(suffix.status).toBe(206);
    expect(suffix.headers.get("content-range")).toBe(`bytes ${big.length - 500}-${big.length - 1}/${big.length}`);
    expect(Buffer.from(await suffix.arrayBuffer()).equals(big.subarray(big.length - 500))).toBe(true);

    const open = await download(bigFileId, viewerA, { range: `bytes=${big.length - 10}-` });
    expect(open.status).toBe(206);
    expect(Buffer.from(await open.arrayBuffer()).equals(big.subarray(big.length - 10))).toBe(true);

    const past = await download(bigFileId, viewerA, { range: `bytes=${big.length}-` });
    expect(past.status).toBe(416);
    expect(past.headers.get("content-range")).toBe(`bytes */${big.length}`);
    expect((await past.arrayBuffer()).byteLength).toBe(0);

    const current = await download(bigFileId, viewerA, { range: "bytes=10-19", "if-range": etag });
    expect(current.status).toBe(206);
    const stale = await download(bigFileId, viewerA, { range: "bytes=10-19", "if-range": '"0-0"' });
    expect(stale.status).toBe(200);
    expect(Number(stale.headers.get("content-length"))).toBe(big.length);
    await stale.arrayBuffer();
  });
});

describe("an empty file", () => {
  it("downloads as 0 bytes; any range of it is unsatisfiable", async () => {
    const file = path.join(process.env.LORAPLANE_DATA_DIR!, "runs", a.runId, "train-1", "output", "empty.log");
    writeFileSync(file, "");
    const id = (await t.db.artifact.create({ data: { runId: a.runId, kind: "logs", uri: pathToFileURL(file).href }, select: { id: true } })).id;
    const whole = await download(id, viewerA);
    expect(whole.status).toBe(200);
    expect(whole.headers.get("content-length")).toBe("0");
    expect((await whole.arrayBuffer()).byteLength).toBe(0);
    const ranged = await download(id, viewerA, { range: "bytes=0-" });
    expect(ranged.status).toBe(416);
    expect(ranged.headers.get("content-range")).toBe("bytes */0");
  });
});

describe("authorisation is the download route's, for folders too", () => {
  it("a member of another project gets 404, no token 401, for the archive and for a range", async () => {
    for (const [id, headers] of [
      [adapterId, {}],
      [bigFileId, { range: "bytes=0-9" }],
    ] as const) {
      const foreign = await download(id, memberOfB, headers);
      expect(foreign.status).toBe(404);
      expect(foreign.headers.get("content-type")).toContain("application/json");
      const anonymous = await call(h("downloadArtifact"), "get", `/api/v1/artifacts/${id}/download`, { headers });
      expect(anonymous.status).toBe(401);
    }
  });
});
