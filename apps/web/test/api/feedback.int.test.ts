// The feedback routes over REST: roles (viewer reads, engineer corrects and builds), 4xx naming the field, another
// project's objects invisible, and the chain slice → dataset version → run triggered on it with lineage.
import { insertInteractions } from "@loraplane/db";
import { useTestDb } from "@loraplane/db/testing";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { API_ROUTES } from "../../src/server/routes/index.ts";
import { call, configureEnv, makeProject, makeUser, type TFixture, tokenFor } from "./fixtures.ts";

const t = useTestDb("web-feedback");
const h = (operationId: string) => API_ROUTES.find((r) => r.def.operationId === operationId)!.handler;
const bearer = (s: string) => ({ authorization: `Bearer ${s}` });
let a: TFixture;
let b: TFixture;
let engineer = "";
let viewer = "";
let interactionId = "";

beforeAll(async () => {
  configureEnv(t.url);
  process.env.LORAPLANE_DATA_DIR = mkdtempSync(path.join(os.tmpdir(), "lp-web-fb-"));
  a = await makeProject(t.db, "fb-a");
  b = await makeProject(t.db, "fb-b");
  const eng = await makeUser(t.db, "eng@fb.test");
  const view = await makeUser(t.db, "view@fb.test");
  await t.db.projectMember.createMany({ data: [{ projectId: a.projectId, userId: eng.id, role: "engineer" }, { projectId: a.projectId, userId: view.id, role: "viewer" }] });
  engineer = (await tokenFor(t.db, eng.id)).secret;
  viewer = (await tokenFor(t.db, view.id)).secret;
  const base = { projectId: a.projectId, environmentId: a.environmentId, deploymentId: a.deploymentId, variantId: "v", variantRole: "stable", modelVersionId: a.modelVersionId, endpointName: "chat", operation: "chat/completions", truncated: false, streamed: false, tokenId: null, userId: null, comment: null, createdAt: new Date() };
  await insertInteractions(t.db, [
    { ...base, requestId: "r-up", prompt: { messages: [{ role: "user", content: "hi" }] }, response: "hello", rating: "up", ratedAt: new Date() },
    { ...base, requestId: "r-down", prompt: { messages: [{ role: "user", content: "2+2" }] }, response: "5", rating: "down", ratedAt: new Date() },
  ]);
  interactionId = (await t.db.interaction.findUniqueOrThrow({ where: { requestId: "r-down" }, select: { id: true } })).id;
});

describe("feedback routes", () => {
  it("a viewer lists the slice; bad filters are 400s naming the field", async () => {
    const res = await call(h("listDeploymentInteractions"), "get", `/api/v1/deployments/${a.deploymentId}/interactions?ratings=up,down`, { headers: bearer(viewer) });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ matched: 2, usable: 1, capture: { enabled: false } });
    const bad = await call(h("listDeploymentInteractions"), "get", `/api/v1/deployments/${a.deploymentId}/interactions?ratings=up,meh`, { headers: bearer(viewer) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { issues: { path: string }[] } }).error.issues[0]!.path).toBe("query.ratings");
    const window = await call(h("listDeploymentInteractions"), "get", `/api/v1/deployments/${a.deploymentId}/interactions?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z`, { headers: bearer(viewer) });
    expect(window.status).toBe(400);
    expect(((await window.json()) as { error: { issues: { path: string }[] } }).error.issues[0]!.path).toBe("query.to");
  });

  it("only engineers correct; another project's deployment does not reach the interaction", async () => {
    const path = `/api/v1/deployments/${a.deploymentId}/interactions/${interactionId}/correction`;
    expect((await call(h("correctInteraction"), "put", path, { headers: bearer(viewer), body: { correction: "4" } })).status).toBe(403);
    expect((await call(h("correctInteraction"), "put", path, { headers: bearer(engineer), body: { correction: 4 } })).status).toBe(400);
    const wrongDeployment = await call(h("correctInteraction"), "put", `/api/v1/deployments/${b.deploymentId}/interactions/${interactionId}/correction`, { headers: bearer(engineer), body: { correction: "4" } });
    expect([403, 404]).toContain(wrongDeployment.status);
    const ok = await call(h("correctInteraction"), "put", path, { headers: bearer(engineer), body: { correction: "4" } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ correction: "4" });
  });

  it("builds a dataset version from the slice and triggers a run on it; refuses bad bodies naming the field", async () => {
    const route = h("createFeedbackDatasetVersion");
    const url = `/api/v1/deployments/${a.deploymentId}/feedback-datasets`;
    const both = await call(route, "post", url, { headers: bearer(engineer), body: { datasetId: a.datasetId, newDatasetName: "x", filter: {} } });
    expect(both.status).toBe(400);
    expect(((await both.json()) as { error: { issues: { path: string }[] } }).error.issues[0]!.path).toBe("datasetId");
    const foreign = await call(route, "post", url, { headers: bearer(engineer), body: { datasetId: b.datasetId, filter: {} } });
    expect(foreign.status).toBe(400);
    expect((await call(route, "post", url, { headers: bearer(viewer), body: { newDatasetName: "fb", filter: {} } })).status).toBe(403);

    const created = await call(route, "post", url, { headers: bearer(engineer), body: { newDatasetName: "fb", filter: { ratings: ["up", "corrected"] }, format: "alpaca", validationPercent: 0 } });
    expect(created.status).toBe(201);
    const body = (await created.json()) as { version: { id: string; rowCount: number; lineage: { deploymentId: string } }; dataset: { name: string } };
    expect(body).toMatchObject({ dataset: { name: "fb" }, version: { rowCount: 2, lineage: { deploymentId: a.deploymentId } } });

    const trigger = await call(h("triggerRun"), "post", `/api/v1/pipelines/${a.pipelineId}/runs`, { headers: bearer(engineer), body: { datasetVersionId: body.version.id } });
    expect(trigger.status).toBe(201);
    const run = ((await trigger.json()) as { run: { id: string } }).run;
    const lineage = (await (await call(h("getRunLineage"), "get", `/api/v1/runs/${run.id}/lineage`, { headers: bearer(viewer) })).json()) as { datasetVersion: { id: string; lineage: { kind: string } } };
    expect(lineage.datasetVersion).toMatchObject({ id: body.version.id, lineage: { kind: "feedback" } });
    // Another project's dataset version is not a choice.
    const foreignVersion = await t.db.datasetVersion.findFirstOrThrow({ where: { dataset: { projectId: b.projectId } }, select: { id: true } });
    const refused = await call(h("triggerRun"), "post", `/api/v1/pipelines/${a.pipelineId}/runs`, { headers: bearer(engineer), body: { datasetVersionId: foreignVersion.id } });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: { issues: { path: string }[] } }).error.issues[0]!.path).toBe("datasetVersionId");
  });
});
