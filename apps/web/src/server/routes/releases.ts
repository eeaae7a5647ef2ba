// Releases: one model version moving through the pipeline's environments (dev → staging → prod), per-environment
// approve / reject / rollback, promote to the next environment, and the change freeze of an environment.
import { findReleaseById, listReleasesOfProject } from "@loraplane/db";
import {
  decideReleaseStage,
  freezeEnvironment,
  promoteRelease,
  releaseView,
  rollbackReleaseStage,
  unfreezeEnvironment,
} from "@loraplane/services";
import { z } from "../api/zod.ts";
import { notFound } from "../api/errors.ts";
import { defineRoute } from "../api/route.ts";
import { ZId } from "../api/schemas.ts";
import { serverContext } from "../context.ts";

const STAGE_STATES = ["pending", "awaiting_approval", "rolling_out", "soaking", "promoted", "rolled_back", "blocked", "failed"] as const;
const RELEASE_STATES = ["in_progress", "succeeded", "failed"] as const;
const byRelease = { owner: "release", param: "id" } as const;
const deps = (db: ReturnType<typeof serverContext>["db"]) => ({ db, queue: serverContext().queue() });
const ZEnvName = z.string().min(1).max(100);
const ZComment = z.string().max(2000).optional();

const ZUserRef = z.object({ userId: z.string(), email: z.string(), name: z.string().nullable() });
const ZReleaseStageView = z.object({
  id: z.string(),
  position: z.number().int(),
  environment: z.object({
    id: z.string(),
    name: z.string(),
    tier: z.enum(["dev", "staging", "prod"]),
    inferenceUrl: z.string().nullable().describe("OpenAI base URL of the environment: POST <inferenceUrl>/chat/completions with model = endpointName"),
    frozen: z.object({ at: z.string(), reason: z.string().nullable(), byId: z.string().nullable() }).nullable(),
  }),
  state: z.enum(STAGE_STATES),
  reason: z.string().nullable().describe("Why the stage is in its state (blocked reason, rollback reason, 'no healthy version: …')"),
  policy: z.object({
    start: z.enum(["auto", "manual"]),
    strategy: z.enum(["canary", "blue_green", "ab"]),
    soakSeconds: z.number(),
    slo: z.object({ p99LatencyMs: z.number(), ttftP95Ms: z.number(), maxErrorRate: z.number(), minRequests: z.number() }),
    approval: z.object({ required: z.number(), role: z.string(), separationOfDuties: z.boolean() }),
  }),
  soak: z.object({ startedAt: z.string().nullable(), seconds: z.number(), remainingSeconds: z.number() }).nullable(),
  approvals: z.object({
    required: z.number(),
    received: z.number(),
    decisions: z.array(z.object({ userId: z.string(), email: z.string().nullable(), decision: z.string(), comment: z.string().nullable(), at: z.string() })),
    eligibleApprovers: z.array(ZUserRef).describe("Members who may still approve (role and separation of duties applied)"),
  }),
  promoteRequestedAt: z.string().nullable(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  deployment: z
    .object({
      id: z.string(),
      state: z.string(),
      reason: z.string().nullable(),
      strategy: z.string(),
      variants: z.array(z.object({ role: z.string(), modelVersionId: z.string(), servedModelName: z.string(), weightBps: z.number(), status: z.string() })),
    })
    .nullable(),
});
const ZReleaseView = z.object({
  id: z.string(),
  projectId: z.string(),
  runId: z.string().nullable(),
  run: z.object({ id: z.string(), number: z.number(), pipelineId: z.string() }).nullable(),
  modelVersion: z.object({ id: z.string(), modelName: z.string(), version: z.number(), status: z.string() }),
  endpointName: z.string(),
  state: z.enum(RELEASE_STATES),
  reason: z.string().nullable(),
  requestedById: z.string().nullable(),
  pushedById: z.string().nullable(),
  pushedByIdentity: z.string().nullable(),
  specEditedById: z.string().nullable(),
  createdAt: z.string(),
  finishedAt: z.string().nullable(),
  stages: z.array(ZReleaseStageView),
});

const view = (db: ReturnType<typeof serverContext>["db"], gatewayPublicUrl: string | undefined) => (r: Parameters<typeof releaseView>[1]) =>
  releaseView({ db }, r, gatewayPublicUrl ? { gatewayPublicUrl } : {});

export const listReleasesRoute = defineRoute({
  operationId: "listReleases",
  method: "get",
  path: "/api/v1/projects/{projectId}/releases",
  summary: "Releases of a project, newest first, with the state of every environment's stage",
  tags: ["releases"],
  auth: { kind: "user", scope: "deployments:read", role: "viewer", project: { param: "projectId" } },
  params: z.object({ projectId: ZId }),
  query: z.object({
    state: z.enum(RELEASE_STATES).optional(),
    stageState: z.enum(STAGE_STATES).optional().describe("Only releases with a stage in this state (awaiting_approval: the approvals inbox)"),
    environmentId: ZId.optional(),
    limit: z.coerce.number().int().min(1).max(200).default(50),
  }),
  response: z.object({ items: z.array(ZReleaseView) }),
  handler: async ({ db, env, params, query }) => {
    const rows = await listReleasesOfProject(db, params.projectId, query);
    const toView = view(db, env.GATEWAY_PUBLIC_URL);
    return { items: await Promise.all(rows.map(toView)) };
  },
});

export const getReleaseRoute = defineRoute({
  operationId: "getRelease",
  method: "get",
  path: "/api/v1/releases/{id}",
  summary: "A release: per environment its state, reason, soak countdown, approvals and who may approve, deployment and weights",
  tags: ["releases"],
  auth: { kind: "user", scope: "deployments:read", role: "viewer", project: byRelease },
  params: z.object({ id: ZId }),
  response: ZReleaseView,
  handler: async ({ db, env, params }) => {
    const r = await findReleaseById(db, params.id);
    if (!r) throw notFound(`release ${params.id}`);
    return view(db, env.GATEWAY_PUBLIC_URL)(r);
  },
});

export const promoteReleaseRoute = defineRoute({
  operationId: "promoteRelease",
  method: "post",
  path: "/api/v1/releases/{id}/promote",
  summary: "Promote to the next environment (or the named one); 409 while the previous environment soaks or the target is frozen",
  tags: ["releases"],
  auth: { kind: "user", scope: "deployments:write", role: "engineer", project: byRelease },
  params: z.object({ id: ZId }),
  body: z.object({ environment: ZEnvName.optional(), reason: ZComment }),
  response: ZReleaseView,
  handler: async ({ db, env, params, body, actor }) => view(db, env.GATEWAY_PUBLIC_URL)(await promoteRelease(deps(db), { releaseId: params.id, ...body, actor })),
});

const decide = (decision: "approved" | "rejected", verb: "approve" | "reject") =>
  defineRoute({
    operationId: `${verb}ReleaseStage`,
    method: "post",
    path: `/api/v1/releases/{id}/environments/{environment}/${verb}`,
    summary:
      verb === "approve"
        ? "Approve an environment's stage; 403 with the reason for the run's requester, the git pusher, the spec's last editor or a role below the policy's"
        : "Reject an environment's stage with a comment (blocks it and fails the release)",
    tags: ["releases"],
    // The stage's policy decides the role; the service answers 403 with the reason.
    auth: { kind: "user", scope: "approvals:write", role: "viewer", project: byRelease },
    params: z.object({ id: ZId, environment: ZEnvName }),
    body: z.object({ comment: ZComment }),
    response: ZReleaseView,
    handler: async ({ db, env, params, body, actor }) =>
      view(db, env.GATEWAY_PUBLIC_URL)(await decideReleaseStage(deps(db), { releaseId: params.id, environment: params.environment, decision, comment: body.comment, actor })),
  });

export const approveReleaseStageRoute = decide("approved", "approve");
export const rejectReleaseStageRoute = decide("rejected", "reject");

export const rollbackReleaseStageRoute = defineRoute({
  operationId: "rollbackReleaseStage",
  method: "post",
  path: "/api/v1/releases/{id}/environments/{environment}/rollback",
  summary: "Roll this environment back to its last known good version; other environments are left alone (works in a frozen environment)",
  tags: ["releases"],
  auth: { kind: "user", scope: "deployments:write", role: "engineer", project: byRelease },
  params: z.object({ id: ZId, environment: ZEnvName }),
  body: z.object({ reason: ZComment }),
  response: ZReleaseView,
  handler: async ({ db, env, params, body, actor }) =>
    view(db, env.GATEWAY_PUBLIC_URL)(await rollbackReleaseStage(deps(db), { releaseId: params.id, environment: params.environment, reason: body.reason, actor })),
});

const ZFreezeState = z.object({ id: z.string(), projectId: z.string(), name: z.string(), frozenAt: z.string().nullable(), frozenReason: z.string().nullable(), frozenById: z.string().nullable() });

export const freezeEnvironmentRoute = defineRoute({
  operationId: "freezeEnvironment",
  method: "post",
  path: "/api/v1/environments/{id}/freeze",
  summary: "Change freeze (admin): nothing starts or promotes in this environment until it is unfrozen; rollbacks still work",
  tags: ["environments"],
  auth: { kind: "user", scope: "admin", role: "admin", project: { owner: "environment", param: "id" } },
  params: z.object({ id: ZId }),
  body: z.object({ reason: z.string().max(2000) }),
  response: ZFreezeState,
  handler: ({ db, params, body, actor }) => freezeEnvironment({ db }, { environmentId: params.id, reason: body.reason, actor }),
});

export const unfreezeEnvironmentRoute = defineRoute({
  operationId: "unfreezeEnvironment",
  method: "post",
  path: "/api/v1/environments/{id}/unfreeze",
  summary: "Lift an environment's change freeze (admin); waiting releases continue",
  tags: ["environments"],
  auth: { kind: "user", scope: "admin", role: "admin", project: { owner: "environment", param: "id" } },
  params: z.object({ id: ZId }),
  body: z.object({ reason: ZComment }),
  response: ZFreezeState,
  handler: ({ db, params, body, actor }) => unfreezeEnvironment({ db }, { environmentId: params.id, reason: body.reason, actor }),
});
