// Issue #11 finding 1: a run's `params` are an allowlist of sweepable spec paths; prototype paths are refused with a
// 400 naming the path, and Object.prototype is never touched (before the fix, "__proto__.expired" set
// Object.prototype.expired in the web process and every session was then treated as expired).
import { useTestDb } from "@loraplane/db/testing";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { serverContext } from "../../src/server/context.ts";
import { API_ROUTES } from "../../src/server/routes/index.ts";
import { call, configureEnv, makeProject, makeUser, sessionCookie, type TFixture, tokenFor } from "./fixtures.ts";

const t = useTestDb("web-sec-params");
const trigger = API_ROUTES.find((r) => r.def.operationId === "triggerRun")!.handler;
const listProjects = API_ROUTES.find((r) => r.def.operationId === "listProjects")!.handler;
let fx: TFixture;
let token = "";
let engineerId = "";
const protoNames = () => Object.getOwnPropertyNames(Object.prototype).sort();
const baseline = protoNames();

beforeAll(async () => {
  configureEnv(t.url);
  fx = await makeProject(t.db, "sec-params");
  engineerId = (await makeUser(t.db, "eng@params.test")).id;
  await t.db.projectMember.create({ data: { projectId: fx.projectId, userId: engineerId, role: "engineer" } });
  token = (await tokenFor(t.db, engineerId)).secret;
});

afterEach(() => {
  // Keep a failure of this file from poisoning the rest of the worker.
  for (const name of protoNames()) if (!baseline.includes(name)) delete (Object.prototype as Record<string, unknown>)[name];
});

afterAll(async () => {
  await serverContext().queue().close();
});

describe("run params cannot pollute prototypes", () => {
  const hostile = ["__proto__.expired", "constructor.prototype.expired", "training.__proto__.expired", "training.constructor.prototype.expired", "prototype.expired", "__proto__"];
  for (const path of hostile) {
    it(`POST /pipelines/{id}/runs with params["${path}"] → 400 naming params.${path}`, async () => {
      const res = await call(trigger, "post", `/api/v1/pipelines/${fx.pipelineId}/runs`, {
        headers: { authorization: `Bearer ${token}` },
        body: { params: { [path]: true } },
      });
      const body = await res.json();
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(body.error.issues.map((i: { path: string }) => i.path)).toContain(`params.${path}`);
      expect(protoNames()).toEqual(baseline);
      expect(({} as Record<string, unknown>).expired).toBeUndefined();
    });
  }

  it("a non-sweepable path is refused; an allowed one creates the run with the override", async () => {
    const bad = await call(trigger, "post", `/api/v1/pipelines/${fx.pipelineId}/runs`, { headers: { authorization: `Bearer ${token}` }, body: { params: { "model.baseModel": "/etc" } } });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.issues[0].path).toBe("params.model.baseModel");
    const ok = await call(trigger, "post", `/api/v1/pipelines/${fx.pipelineId}/runs`, { headers: { authorization: `Bearer ${token}` }, body: { params: { "training.learningRate": 0.001 } } });
    const created = await ok.json();
    expect(ok.status, JSON.stringify(created)).toBe(201);
    const run = await t.db.pipelineRun.findUniqueOrThrow({ where: { id: created.run.id }, select: { resolvedSpec: true } });
    expect((run.resolvedSpec as { training: { learningRate: number } }).training.learningRate).toBe(0.001);
  });

  it("sessions still work after the hostile requests", async () => {
    const res = await call(listProjects, "get", "/api/v1/projects", { headers: { cookie: await sessionCookie(engineerId) } });
    expect(res.status).toBe(200);
  });
});

describe("pipeline specs cannot carry prototype sweep paths", () => {
  it("POST /projects/{id}/pipelines with sweep.grid['training.__proto__.polluted'] → 400 naming it", async () => {
    const createPipeline = API_ROUTES.find((r) => r.def.operationId === "createPipeline")!.handler;
    const res = await call(createPipeline, "post", `/api/v1/projects/${fx.projectId}/pipelines`, {
      headers: { authorization: `Bearer ${token}` },
      body: { spec: { name: "swept", model: { name: "m", baseModel: "/models/tiny" }, dataset: { name: "ds", version: "v1" }, sweep: { metric: "f1", grid: { "training.__proto__.polluted": [1] } } } },
    });
    const body = await res.json();
    expect(res.status, JSON.stringify(body)).toBe(400);
    expect(body.error.issues.map((i: { path: string }) => i.path)).toContain("spec.sweep.grid.training.__proto__.polluted");
    expect(protoNames()).toEqual(baseline);
  });
});
