// Suite 4 (issue 11): every route that serves a file a workload reported — GET /runs/{id}/logs, GET
// /runs/{id}/artifacts (the downloadable flag) and GET /artifacts/{id}/download — serves it only from the run's own
// directory on the data volume after realpath: `..`, percent-encoded and symlinked paths are refused, and so is a
// file of another run or anywhere else on the data volume.
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { useTestDb } from "@loraplane/db/testing";
import { resolveRunFile } from "@loraplane/services";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serverContext } from "../../src/server/context.ts";
import { API_ROUTES } from "../../src/server/routes/index.ts";
import { call, configureEnv, makeProject, makeUser, type TFixture, tokenFor } from "./fixtures.ts";

const t = useTestDb("web-run-files");
const h = (operationId: string) => API_ROUTES.find((r) => r.def.operationId === operationId)!.handler;
let a: TFixture;
let b: TFixture;
let token = "";
let dataDir = "";
const bearer = () => ({ authorization: `Bearer ${token}` });

beforeAll(async () => {
  configureEnv(t.url);
  dataDir = process.env.LORAPLANE_DATA_DIR!;
  a = await makeProject(t.db, "files-a");
  b = await makeProject(t.db, "files-b");
  const admin = await makeUser(t.db, "admin@files.test", "admin");
  token = (await tokenFor(t.db, admin.id)).secret;
  for (const f of [a, b]) {
    const dir = path.join(dataDir, "runs", f.runId, "eval-1", "output");
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, "eval_report.json"), `{"run":"${f.runId}"}`);
    writeFileSync(path.join(dataDir, "runs", f.runId, "eval-1", "stderr.log"), `log of ${f.runId}\n`);
  }
  mkdirSync(path.join(dataDir, "projects", b.projectId, "datasets", "demo", "v1"), { recursive: true });
  writeFileSync(path.join(dataDir, "projects", b.projectId, "datasets", "demo", "v1", "train.jsonl"), '{"secret":"b"}\n');
  const linkDir = path.join(dataDir, "runs", a.runId, "eval-1", "output");
  symlinkSync(path.join(dataDir, "runs", b.runId, "eval-1", "output", "eval_report.json"), path.join(linkDir, "other-run.json"));
  symlinkSync("/etc/hostname", path.join(linkDir, "host.txt"));
});

afterAll(async () => {
  await serverContext().queue().close();
});

const own = () => path.join(dataDir, "runs", a.runId, "eval-1", "output");
const hostile = () => ({
  dotdot: `file://${own()}/../../../${b.runId}/eval-1/output/eval_report.json`,
  encodedDots: `file://${own()}/%2e%2e/%2e%2e/%2e%2e/${b.runId}/eval-1/output/eval_report.json`,
  encodedSlash: `file://${own()}/..%2f..%2f..%2f${b.runId}%2feval-1%2foutput%2feval_report.json`,
  symlinkToOtherRun: pathToFileURL(path.join(own(), "other-run.json")).href,
  symlinkToHost: pathToFileURL(path.join(own(), "host.txt")).href,
  otherRun: pathToFileURL(path.join(dataDir, "runs", b.runId, "eval-1", "output", "eval_report.json")).href,
  otherProjectDataset: pathToFileURL(path.join(dataDir, "projects", b.projectId, "datasets", "demo", "v1", "train.jsonl")).href,
  host: "file:///etc/hostname",
});

describe("file-serving routes serve only the run's own files", () => {
  it("download: the run's own file is served; every hostile path is refused with 403 and never 2xx", async () => {
    const okArtifact = await t.db.artifact.create({ data: { runId: a.runId, kind: "eval_report", uri: pathToFileURL(path.join(own(), "eval_report.json")).href }, select: { id: true } });
    const ok = await call(h("downloadArtifact"), "get", `/api/v1/artifacts/${okArtifact.id}/download`, { headers: bearer() });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe(`{"run":"${a.runId}"}`);

    for (const [name, uri] of Object.entries(hostile())) {
      const artifact = await t.db.artifact.create({ data: { runId: a.runId, kind: "other", uri }, select: { id: true } });
      const res = await call(h("downloadArtifact"), "get", `/api/v1/artifacts/${artifact.id}/download`, { headers: bearer() });
      expect(res.status, `${name}: ${uri}`).toBe(403);
      expect(await res.text(), name).not.toContain('{"run":');
    }
  });

  it("artifact list: hostile paths are never marked downloadable", async () => {
    const res = await call(h("listRunArtifacts"), "get", `/api/v1/runs/${a.runId}/artifacts`, { headers: bearer() });
    expect(res.status).toBe(200);
    const items = (await res.json()).items as { uri: string; downloadable: boolean }[];
    const hostileUris = new Set(Object.values(hostile()));
    expect(items.filter((i) => hostileUris.has(i.uri)).map((i) => i.downloadable)).toEqual(Object.values(hostile()).map(() => false));
    expect(items.find((i) => i.uri.endsWith(`${a.runId}/eval-1/output/eval_report.json`))?.downloadable).toBe(true);
  });

  it("logs: the stage's own log is tailed; a logsUri outside the run's directory is refused", async () => {
    const stage = await t.db.stageRun.create({ data: { runId: a.runId, stage: "eval", attempt: 1, status: "succeeded", logsUri: pathToFileURL(path.join(dataDir, "runs", a.runId, "eval-1", "stderr.log")).href }, select: { id: true } });
    const ok = await call(h("getRunLogs"), "get", `/api/v1/runs/${a.runId}/logs?stage=eval`, { headers: bearer() });
    expect(ok.status).toBe(200);
    expect((await ok.json()).lines).toEqual([`log of ${a.runId}`]);
    for (const [name, uri] of Object.entries(hostile())) {
      await t.db.stageRun.update({ where: { id: stage.id }, data: { logsUri: uri } });
      const res = await call(h("getRunLogs"), "get", `/api/v1/runs/${a.runId}/logs?stage=eval`, { headers: bearer() });
      expect(res.status, `${name}: ${uri}`).toBe(403);
    }
  });

  it("resolveRunFile names why a path is refused", async () => {
    const x = hostile();
    expect(await resolveRunFile(dataDir, a.runId, x.dotdot)).toMatchObject({ ok: false, reason: ". and .. segments are refused" });
    expect(await resolveRunFile(dataDir, a.runId, x.encodedDots)).toMatchObject({ ok: false, reason: expect.stringContaining("percent-encoded") });
    expect(await resolveRunFile(dataDir, a.runId, x.symlinkToOtherRun)).toMatchObject({ ok: false, reason: "resolves outside the run's directory on the data volume" });
    expect(await resolveRunFile(dataDir, a.runId, x.otherRun)).toMatchObject({ ok: false, reason: "outside the run's directory on the data volume" });
    expect(await resolveRunFile(dataDir, a.runId, "s3://bucket/x")).toMatchObject({ ok: false });
  });
});
