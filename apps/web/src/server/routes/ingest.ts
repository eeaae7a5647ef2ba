import {
  ingestMetricPoints,
  type INBOUND_PROVIDERS,
  parsePushEvent,
  pipelinesForPush,
  recordArtifacts,
  recordHeartbeat,
  triggerRun,
  verifyInboundWebhook,
  ZArtifactsBody,
  ZHeartbeat,
  ZMetricPoint,
} from "@loraplane/services";
import { z } from "../api/zod.ts";
import { HttpError } from "../api/errors.ts";
import { defineRoute } from "../api/route.ts";
import { boundedRecord, ZId } from "../api/schemas.ts";
import { serverContext } from "../context.ts";

const runParams = z.object({ runId: ZId });
// Workload bodies are closed like every other body: an unknown field is a 400 naming it.
const ZArtifactManifest = ZArtifactsBody.shape.artifacts.element;
const ZStrictArtifacts = z.object({
  artifacts: z
    .array(ZArtifactManifest.extend({ metadata: boundedRecord(z.unknown(), 100, 200).optional() }).strict())
    .min(1)
    .max(100),
});

export const ingestMetricsRoute = defineRoute({
  operationId: "ingestMetrics",
  method: "post",
  path: "/api/v1/ingest/runs/{runId}/metrics",
  summary: "Workloads report metric points (≤1000 per request); a repeated (key, step) overwrites",
  tags: ["ingest"],
  auth: { kind: "run" },
  params: runParams,
  body: z.object({ points: z.array(ZMetricPoint.strict()) }),
  response: z.object({ accepted: z.number() }),
  status: 202,
  handler: async ({ db, params, body }) => {
    return ingestMetricPoints(db, params.runId, body.points);
  },
});

export const ingestHeartbeatRoute = defineRoute({
  operationId: "ingestHeartbeat",
  method: "post",
  path: "/api/v1/ingest/runs/{runId}/heartbeat",
  summary: "Workloads report liveness and progress (step, totalSteps, progress, etaSeconds)",
  tags: ["ingest"],
  auth: { kind: "run" },
  params: runParams,
  body: ZHeartbeat.extend({ stage: z.string().max(32).optional() }),
  response: z.object({ stage: z.string(), heartbeatAt: z.string() }),
  status: 202,
  handler: async ({ db, runToken, body }) => {
    return recordHeartbeat(db, runToken, body);
  },
});

export const ingestArtifactsRoute = defineRoute({
  operationId: "ingestArtifacts",
  method: "post",
  path: "/api/v1/ingest/runs/{runId}/artifacts",
  summary: "Workloads register artifacts (kind, uri, sha256, size)",
  tags: ["ingest"],
  auth: { kind: "run" },
  params: runParams,
  body: ZStrictArtifacts,
  response: z.unknown(),
  status: 202,
  handler: async ({ db, runToken, body }) => {
    return recordArtifacts(db, runToken, body);
  },
});

const hook = (provider: (typeof INBOUND_PROVIDERS)[number]) =>
  defineRoute({
    operationId: `${provider}PushHook`,
    method: "post",
    path: `/api/v1/hooks/${provider}/{projectId}`,
    summary:
      provider === "gitlab"
        ? "GitLab push hook (X-Gitlab-Token): triggers the project's pipelines that follow the pushed branch"
        : "GitHub push hook (X-Hub-Signature-256): triggers the project's pipelines that follow the pushed branch",
    tags: ["hooks"],
    auth: { kind: "signature" },
    params: z.object({ projectId: ZId }),
    headers: provider === "gitlab" ? z.object({ "x-gitlab-token": z.string(), "x-gitlab-event": z.string() }) : z.object({ "x-hub-signature-256": z.string(), "x-github-event": z.string() }),
    response: z.object({ event: z.string(), triggered: z.array(z.object({ pipelineId: z.string(), runId: z.string(), number: z.number(), created: z.boolean() })) }),
    status: 202,
    handler: async ({ req, db, env, params, rawBody }) => {
      await verifyInboundWebhook(db, env.LORAPLANE_SECRET_KEY, params.projectId, provider, req.headers, rawBody);
      let payload: unknown;
      try {
        payload = JSON.parse(rawBody);
      } catch {
        throw new HttpError(400, "invalid_json", "the webhook body is not valid JSON");
      }
      const push = parsePushEvent(provider, req.headers, payload);
      if (!push) return { event: "ignored", triggered: [] };
      const triggered = [];
      for (const pipeline of await pipelinesForPush(db, params.projectId, push)) {
        // One run per pipeline and commit, however often the provider redelivers the hook.
        const { run, created } = await triggerRun(
          { db, queue: serverContext().queue() },
          { projectId: params.projectId, pipelineId: pipeline.id, trigger: "webhook", gitCommit: push.commit, gitRef: push.branch, idempotencyKey: `push:${push.commit}`, pushedBy: push.pusher },
        );
        triggered.push({ pipelineId: pipeline.id, runId: run.id, number: run.number, created });
      }
      return { event: "push", triggered };
    },
  });

export const gitlabHookRoute = hook("gitlab");
export const githubHookRoute = hook("github");
