import { API_SCOPES, ROLES } from "@loraplane/services";
import { z } from "./zod.ts";

export const ZId = z.string().min(1).max(64);
export const ZDateTime = z.string();
export const ZNullableDateTime = z.string().nullable();
export const ZRole = z.enum(ROLES);
export const ZScope = z.enum(API_SCOPES);
export const ZLimit = z.coerce.number().int().min(1).max(200).default(50);
export const ZReasonBody = z.object({ reason: z.string().max(2000).optional() });
export const ZOk = z.object({ ok: z.literal(true) });

/** A JSON map with a bounded number of entries and bounded keys (documented as maxProperties). */
export function boundedRecord<V extends z.ZodType>(value: V, maxEntries: number, maxKeyLength = 100) {
  return z
    .record(z.string().min(1).max(maxKeyLength), value)
    .refine((o) => Object.keys(o).length <= maxEntries, `at most ${maxEntries} entries`)
    .meta({ maxProperties: maxEntries });
}

/** Parameter overrides of a run (`training.learningRate` → 0.0002): at most 50, each string value at most 1000 characters. */
export const ZRunParams = boundedRecord(z.union([z.number(), z.string().max(1000), z.boolean()]), 50);

/** Largest value of a Postgres integer: cursors and indexes beyond it are a 400, never an overflow (500). */
export const MAX_INT32 = 2_147_483_647;

export const ZProject = z.object({
  id: z.string(),
  slug: z.string(),
  name: z.string(),
  description: z.string().nullable(),
  createdAt: ZDateTime,
  updatedAt: ZDateTime,
});

export const ZUser = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string().nullable(),
  role: ZRole,
  disabledAt: ZNullableDateTime,
  createdAt: ZDateTime,
});

export const ZApiToken = z.object({
  id: z.string(),
  name: z.string(),
  prefix: z.string(),
  scopes: z.array(z.string()),
  userId: z.string(),
  projectId: z.string().nullable(),
  expiresAt: ZNullableDateTime,
  revokedAt: ZNullableDateTime,
  lastUsedAt: ZNullableDateTime,
  createdAt: ZDateTime,
});

export const ZEnvironment = z.object({
  id: z.string(),
  projectId: z.string(),
  name: z.string(),
  tier: z.enum(["dev", "staging", "prod"]),
  namespace: z.string(),
  requiresApproval: z.boolean(),
  gatewayUrl: z.string().nullable(),
  servingBackend: z.enum(["inline", "local", "kubernetes"]),
  captureFeedbackData: z.boolean(),
  feedbackRetentionDays: z.number(),
  createdAt: ZDateTime,
});

export const ZDataset = z.object({ id: z.string(), projectId: z.string(), name: z.string(), description: z.string().nullable(), createdAt: ZDateTime });
export const ZDatasetVersion = z.object({
  id: z.string(),
  datasetId: z.string(),
  version: z.string(),
  uri: z.string(),
  sha256: z.string(),
  rowCount: z.number(),
  sizeBytes: z.number().nullable(),
  format: z.enum(["alpaca", "chat"]),
  splits: z.unknown(),
  createdAt: ZDateTime,
});

export const ZPipeline = z.object({
  id: z.string(),
  projectId: z.string(),
  name: z.string(),
  description: z.string().nullable(),
  spec: z.unknown(),
  specVersion: z.number(),
  /** The spec as the user wrote it, when saved as text (null: only the parsed spec is known). */
  specText: z.string().nullable(),
  gitRepo: z.string().nullable(),
  gitBranches: z.array(z.string()),
  archivedAt: ZNullableDateTime,
  createdById: z.string().nullable(),
  createdAt: ZDateTime,
  updatedAt: ZDateTime,
});

export const ZIssue = z.object({ path: z.string(), message: z.string() });

const runStatus = z.enum(["queued", "running", "waiting_approval", "awaiting_review", "succeeded", "failed", "blocked", "cancelled"]);
export const ZRunStatus = runStatus;
export const ZRunSummary = z.object({
  id: z.string(),
  projectId: z.string(),
  pipelineId: z.string(),
  pipelineName: z.string(),
  number: z.number(),
  status: runStatus,
  trigger: z.string(),
  gitCommit: z.string().nullable(),
  gitRef: z.string().nullable(),
  currentStage: z.string().nullable(),
  error: z.string().nullable(),
  requestedById: z.string().nullable(),
  createdAt: ZDateTime,
  startedAt: ZNullableDateTime,
  finishedAt: ZNullableDateTime,
});

export const ZStage = z.object({
  id: z.string(),
  stage: z.string(),
  status: z.string(),
  attempt: z.number(),
  executor: z.string().nullable(),
  startedAt: ZNullableDateTime,
  finishedAt: ZNullableDateTime,
  progress: z.number().nullable(),
  step: z.number().nullable(),
  totalSteps: z.number().nullable(),
  etaSeconds: z.number().nullable(),
  heartbeatAt: ZNullableDateTime,
  error: z.string().nullable(),
  // A train attempt that continued from an earlier attempt's checkpoint (or its own, after a restart) at this step.
  resumedFromStep: z.number().nullable(),
});

export const ZRunDetail = ZRunSummary.extend({
  specVersion: z.number(),
  resolvedSpec: z.unknown(),
  params: z.unknown().nullable(),
  datasetVersionId: z.string().nullable(),
  retryOfRunId: z.string().nullable(),
  cancelRequestedAt: ZNullableDateTime,
  stages: z.array(ZStage),
});

export const ZArtifact = z.object({
  id: z.string(),
  runId: z.string(),
  kind: z.string(),
  uri: z.string(),
  sha256: z.string().nullable(),
  sizeBytes: z.number().nullable(),
  metadata: z.unknown().nullable(),
  createdAt: ZDateTime,
});

export const ZModelVersion = z.object({
  id: z.string(),
  projectId: z.string(),
  modelName: z.string(),
  version: z.number(),
  runId: z.string(),
  baseModel: z.string(),
  status: z.string(),
  gitCommit: z.string().nullable(),
  datasetVersionId: z.string().nullable(),
  parentVersionId: z.string().nullable(),
  adapterArtifactId: z.string().nullable(),
  aliases: z.array(z.string()),
  createdAt: ZDateTime,
});

export const ZApproval = z.object({
  id: z.string(),
  projectId: z.string(),
  environmentId: z.string(),
  subjectType: z.string(),
  subjectId: z.string(),
  deploymentId: z.string().nullable(),
  summary: z.string(),
  status: z.enum(["pending", "approved", "rejected", "cancelled"]),
  requestedById: z.string().nullable(),
  decidedById: z.string().nullable(),
  comment: z.string().nullable(),
  createdAt: ZDateTime,
  decidedAt: ZNullableDateTime,
});

export const ZWebhook = z.object({
  id: z.string(),
  projectId: z.string(),
  url: z.string(),
  format: z.enum(["standard", "slack", "teams"]),
  events: z.array(z.string()),
  active: z.boolean(),
  consecutiveFailures: z.number().int(),
  disabledAt: ZDateTime.nullable(),
  disabledReason: z.string().nullable(),
  createdAt: ZDateTime,
});

export const ZWebhookDelivery = z.object({
  id: z.string(),
  subscriptionId: z.string(),
  event: z.string(),
  eventId: z.string().describe("sent as webhook-id; the same on every attempt and redelivery"),
  status: z.enum(["pending", "succeeded", "failed"]),
  attempts: z.number().int(),
  lastStatusCode: z.number().int().nullable(),
  lastError: z.string().nullable(),
  lastRequest: z.string().nullable().describe("headers (signatures elided) and the first KB of the body"),
  lastResponse: z.string().nullable().describe("the first KB of the receiver's answer"),
  lastDurationMs: z.number().int().nullable(),
  lastAttemptAt: ZDateTime.nullable(),
  nextAttemptAt: ZDateTime.nullable(),
  deliveredAt: ZDateTime.nullable(),
  createdAt: ZDateTime,
});

export const ZAuditEntry = z.object({
  id: z.string(),
  projectId: z.string().nullable(),
  actorType: z.string(),
  actorId: z.string().nullable(),
  action: z.string(),
  subjectType: z.string(),
  subjectId: z.string().nullable(),
  before: z.unknown().nullable(),
  after: z.unknown().nullable(),
  requestId: z.string().nullable(),
  ip: z.string().nullable(),
  createdAt: ZDateTime,
});

export const page = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), nextCursor: z.string().nullable() });
