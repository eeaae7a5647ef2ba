import { findDeploymentById, findProjectIdOf, listDeploymentsOfProject, listApprovalRecords, listRolloutEvents } from "@loraplane/db";
import {
  decideApproval,
  getDeploymentMetrics,
  getShadowResults,
  pauseDeployment,
  promoteDeployment,
  resumeDeployment,
  rollbackDeployment,
  setDeploymentSplit,
  startDeployment,
} from "@loraplane/services";
import { z } from "../api/zod.ts";
import { notFound } from "../api/errors.ts";
import { defineRoute } from "../api/route.ts";
import { boundedRecord, ZApproval, ZId, ZReasonBody } from "../api/schemas.ts";
import { serverContext } from "../context.ts";

const byDeployment = { owner: "deployment", param: "id" } as const;
const ZActionResult = z.object({ deploymentId: z.string(), state: z.string(), weights: z.record(z.string(), z.number()), routingVersion: z.number() });
const deps = (db: ReturnType<typeof serverContext>["db"]) => ({ db, queue: serverContext().queue() });

export const listDeploymentsRoute = defineRoute({
  operationId: "listDeployments",
  method: "get",
  path: "/api/v1/projects/{projectId}/deployments",
  summary: "Deployments of a project, newest first",
  tags: ["deployments"],
  auth: { kind: "user", scope: "deployments:read", role: "viewer", project: { param: "projectId" } },
  params: z.object({ projectId: ZId }),
  query: z.object({
    environmentId: ZId.optional(),
    state: z.enum(["pending", "awaiting_approval", "progressing", "paused", "promoted", "rolled_back", "failed", "superseded"]).optional(),
  }),
  response: z.object({ items: z.array(z.unknown()) }),
  handler: async ({ db, params, query }) => ({ items: await listDeploymentsOfProject(db, params.projectId, query) }),
});

export const getDeploymentRoute = defineRoute({
  operationId: "getDeployment",
  method: "get",
  path: "/api/v1/deployments/{id}",
  summary: "A deployment with its variants, weights, rollout events and shadow evaluation (null when it has none)",
  tags: ["deployments"],
  auth: { kind: "user", scope: "deployments:read", role: "viewer", project: byDeployment },
  params: z.object({ id: ZId }),
  response: z.object({ deployment: z.unknown(), events: z.array(z.unknown()), shadow: z.unknown() }),
  handler: async ({ db, params }) => {
    const deployment = await findDeploymentById(db, params.id);
    if (!deployment) throw notFound(`deployment ${params.id}`);
    const [events, shadow] = await Promise.all([listRolloutEvents(db, params.id), getShadowResults(db, params.id)]);
    return { deployment, events, shadow };
  },
});

export const deploymentMetricsRoute = defineRoute({
  operationId: "getDeploymentMetrics",
  method: "get",
  path: "/api/v1/deployments/{id}/metrics",
  summary: "Per-variant p50/p95/p99 latency, TTFT p95, error rate and requests per second",
  tags: ["deployments"],
  auth: { kind: "user", scope: "deployments:read", role: "viewer", project: byDeployment },
  params: z.object({ id: ZId }),
  query: z
    .object({ since: z.iso.datetime({ offset: true }).optional(), until: z.iso.datetime({ offset: true }).optional(), maxPoints: z.coerce.number().int().min(10).max(5000).default(300) })
    .refine((q) => !q.since || !q.until || Date.parse(q.until) > Date.parse(q.since), { path: ["until"], message: "must be after since" }),
  response: z.unknown(),
  handler: ({ db, params, query }) => getDeploymentMetrics(db, { deploymentId: params.id, ...query }),
});

export const createDeploymentRoute = defineRoute({
  operationId: "createDeployment",
  method: "post",
  path: "/api/v1/deployments",
  summary: "Deploy a model version to an environment (approval first where the environment requires it)",
  tags: ["deployments"],
  auth: { kind: "user", scope: "deployments:write", role: "engineer", project: { body: "projectId" } },
  body: z.object({
    projectId: ZId,
    modelVersionId: ZId,
    environmentId: ZId,
    endpointName: z.string().min(1).max(63),
    strategy: z.enum(["canary", "blue_green", "ab"]).default("canary"),
    policy: z.unknown().optional(),
  }),
  response: z.object({ deploymentId: z.string(), state: z.string() }),
  status: 201,
  handler: async ({ db, body, actor, projectId }) => {
    // Both objects must belong to the project the caller was authorized for.
    if ((await findProjectIdOf(db, "model_version", body.modelVersionId)) !== projectId) throw notFound(`model version ${body.modelVersionId}`);
    if ((await findProjectIdOf(db, "environment", body.environmentId)) !== projectId) throw notFound(`environment ${body.environmentId}`);
    const { projectId: _p, ...input } = body;
    return startDeployment(deps(db), { ...input, actor });
  },
});

const action = (name: "promote" | "rollback" | "pause" | "resume", fn: typeof promoteDeployment, summary: string) =>
  defineRoute({
    operationId: `${name}Deployment`,
    method: "post",
    path: `/api/v1/deployments/{id}/${name}`,
    summary,
    tags: ["deployments"],
    auth: { kind: "user", scope: "deployments:write", role: "engineer", project: byDeployment },
    params: z.object({ id: ZId }),
    body: ZReasonBody,
    response: ZActionResult,
    handler: ({ db, params, body, actor }) => fn(deps(db), { deploymentId: params.id, actor, reason: body.reason }),
  });

export const promoteRoute = action("promote", promoteDeployment, "Send all traffic to the new variant");
export const rollbackRoute = action("rollback", rollbackDeployment as typeof promoteDeployment, "Send all traffic back to the stable variant");
export const pauseRoute = action("pause", pauseDeployment, "Stop the automatic rollout steps");
export const resumeRoute = action("resume", resumeDeployment, "Resume the automatic rollout steps");

export const splitRoute = defineRoute({
  operationId: "setDeploymentSplit",
  method: "post",
  path: "/api/v1/deployments/{id}/split",
  summary: "Set traffic weights in basis points per variant (sum 10000); pauses an automatic canary",
  tags: ["deployments"],
  auth: { kind: "user", scope: "deployments:write", role: "engineer", project: byDeployment },
  params: z.object({ id: ZId }),
  body: z.object({ weights: boundedRecord(z.number().int().min(0).max(10_000), 20), reason: z.string().max(2000).optional() }),
  response: ZActionResult,
  handler: ({ db, params, body, actor }) => setDeploymentSplit(deps(db), { deploymentId: params.id, actor, weights: body.weights, reason: body.reason }),
});

export const listApprovalsRoute = defineRoute({
  operationId: "listApprovals",
  method: "get",
  path: "/api/v1/approvals",
  summary: "Approval requests (the approvals inbox)",
  tags: ["approvals"],
  auth: { kind: "user", scope: "runs:read", role: "viewer", project: { query: "projectId" } },
  query: z.object({ projectId: ZId.optional(), status: z.enum(["pending", "approved", "rejected", "cancelled"]).optional() }),
  response: z.object({ items: z.array(ZApproval) }),
  handler: async ({ db, query, projectId, visibleProjectIds }) => ({
    items: await listApprovalRecords(db, { projectIds: projectId ? [projectId] : await visibleProjectIds("viewer"), status: query.status }),
  }),
});

const decide = (decision: "approved" | "rejected", verb: "approve" | "reject") =>
  defineRoute({
    operationId: `${verb}Approval`,
    method: "post",
    path: `/api/v1/approvals/{id}/${verb}`,
    summary: `${verb === "approve" ? "Approve" : "Reject"} a pending request (nobody decides their own request)`,
    tags: ["approvals"],
    auth: { kind: "user", scope: "approvals:write", role: "approver", project: { owner: "approval", param: "id" } },
    params: z.object({ id: ZId }),
    body: z.object({ comment: z.string().max(2000).optional() }),
    response: z.unknown(),
    handler: ({ db, params, body, actor }) => decideApproval(deps(db), { approvalId: params.id, decision, comment: body.comment, actor }),
  });

export const approveRoute = decide("approved", "approve");
export const rejectRoute = decide("rejected", "reject");
