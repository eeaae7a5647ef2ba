// The feedback loop on a deployment: stored interactions (environments with captureFeedbackData), reviewers'
// corrections, and a filtered slice of them turned into a new dataset version with its lineage.
import { correctInteraction, createFeedbackDatasetVersion, listDeploymentInteractions } from "@loraplane/services";
import { defineRoute } from "../api/route.ts";
import { ZDatasetVersion, ZDateTime, ZId } from "../api/schemas.ts";
import { z } from "../api/zod.ts";

const byDeployment = { owner: "deployment", param: "id" } as const;
const RATINGS = ["up", "down", "corrected", "unrated"] as const;

/** The slice: window [from, to), ratings (any of), variant role, model version. Shared by the query and the body. */
const filterShape = {
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
  variantRole: z.enum(["stable", "canary", "blue", "green", "a", "b"]).optional(),
  modelVersionId: ZId.optional(),
};
const ZFilterBody = z.strictObject({ ...filterShape, ratings: z.array(z.enum(RATINGS)).max(4).default(["up", "corrected"]) });

function toFilter(f: { from?: string; to?: string; ratings?: readonly (typeof RATINGS)[number][]; variantRole?: string; modelVersionId?: string }) {
  return {
    ...(f.from ? { from: new Date(f.from) } : {}),
    ...(f.to ? { to: new Date(f.to) } : {}),
    ...(f.ratings?.length ? { ratings: f.ratings } : {}),
    ...(f.variantRole ? { variantRole: f.variantRole } : {}),
    ...(f.modelVersionId ? { modelVersionId: f.modelVersionId } : {}),
  };
}

const ZInteraction = z.object({
  id: z.string(),
  requestId: z.string(),
  deploymentId: z.string(),
  variantRole: z.string(),
  modelVersionId: z.string(),
  endpointName: z.string(),
  operation: z.string(),
  prompt: z.unknown(),
  response: z.string(),
  truncated: z.boolean(),
  streamed: z.boolean(),
  rating: z.enum(["up", "down"]).nullable(),
  comment: z.string().nullable(),
  ratedAt: ZDateTime.nullable(),
  correction: z.string().nullable(),
  correctedById: z.string().nullable(),
  correctedAt: ZDateTime.nullable(),
  createdAt: ZDateTime,
});

export const listDeploymentInteractionsRoute = defineRoute({
  operationId: "listDeploymentInteractions",
  method: "get",
  path: "/api/v1/deployments/{id}/interactions",
  summary:
    "Stored interactions (prompt, response, rating, correction) of a deployment whose environment captures feedback data, newest first, filtered by window, ratings (comma-separated: up, down, corrected, unrated; any of), variant role and model version; with the slice's counts (matched, and usable: corrected or rated up)",
  tags: ["deployments"],
  auth: { kind: "user", scope: "deployments:read", role: "viewer", project: byDeployment },
  params: z.object({ id: ZId }),
  query: z
    .object({
      ...filterShape,
      ratings: z
        .string()
        .max(64)
        .optional()
        .transform((v, ctx) => {
          const list = (v ?? "").split(",").filter(Boolean);
          const bad = list.find((r) => !(RATINGS as readonly string[]).includes(r));
          if (bad) {
            ctx.addIssue({ code: "custom", message: `unknown rating "${bad}" (up, down, corrected, unrated)` });
            return z.NEVER;
          }
          return list as (typeof RATINGS)[number][];
        }),
      limit: z.coerce.number().int().min(1).max(100).default(20),
      cursor: z.string().max(100).optional(),
    })
    .refine((q) => !q.from || !q.to || Date.parse(q.to) > Date.parse(q.from), { path: ["to"], message: "must be after from" }),
  response: z.object({
    capture: z.object({ enabled: z.boolean(), retentionDays: z.number() }),
    matched: z.number(),
    usable: z.number(),
    items: z.array(ZInteraction),
    nextCursor: z.string().nullable(),
  }),
  handler: ({ db, params, query }) => listDeploymentInteractions(db, params.id, toFilter(query), { limit: query.limit, ...(query.cursor ? { cursor: query.cursor } : {}) }),
});

export const correctInteractionRoute = defineRoute({
  operationId: "correctInteraction",
  method: "put",
  path: "/api/v1/deployments/{id}/interactions/{interactionId}/correction",
  summary: "A reviewer's corrected answer for a live sample (null or empty clears it); it becomes the target text when the sample is turned into a dataset row. Audited",
  tags: ["deployments"],
  auth: { kind: "user", scope: "deployments:write", role: "engineer", project: byDeployment },
  params: z.object({ id: ZId, interactionId: ZId }),
  body: z.strictObject({ correction: z.string().max(65_536).nullable() }),
  response: ZInteraction,
  handler: ({ db, params, body, actor, meta }) => correctInteraction(db, params.id, params.interactionId, body.correction, actor, meta),
});

export const createFeedbackDatasetVersionRoute = defineRoute({
  operationId: "createFeedbackDatasetVersion",
  method: "post",
  path: "/api/v1/deployments/{id}/feedback-datasets",
  summary:
    "Turn a filtered slice of the deployment's stored interactions into a new immutable version of a dataset (an existing one of the project, or a new one): prompt → the reviewer's correction, or the thumbs-up response (others are skipped), in chat or Alpaca rows, split train/validation stably by request id; stored like an upload (validated, sha256 computed by us) with its lineage (deployment, window, filter). Audited",
  tags: ["datasets"],
  auth: { kind: "user", scope: "runs:write", role: "engineer", project: byDeployment },
  params: z.object({ id: ZId }),
  body: z
    .strictObject({
      datasetId: ZId.optional(),
      newDatasetName: z.string().min(1).max(100).regex(/^[a-zA-Z0-9][a-zA-Z0-9._-]*$/, "letters, digits, '.', '_' and '-' only").optional(),
      filter: ZFilterBody,
      format: z.enum(["chat", "alpaca"]).default("chat"),
      validationPercent: z.number().int().min(0).max(50).default(10),
    })
    .refine((b) => !b.datasetId !== !b.newDatasetName, { path: ["datasetId"], message: "give exactly one of datasetId and newDatasetName" })
    .refine((b) => !b.filter.from || !b.filter.to || Date.parse(b.filter.to) > Date.parse(b.filter.from), { path: ["filter", "to"], message: "must be after filter.from" }),
  response: z.object({
    version: ZDatasetVersion.extend({ lineage: z.unknown(), sourceDeploymentId: z.string().nullable() }),
    deduplicated: z.boolean(),
    dataset: z.object({ id: z.string(), name: z.string() }),
    skipped: z.number(),
  }),
  status: 201,
  handler: ({ db, env, params, body, actor, meta }) =>
    createFeedbackDatasetVersion(
      db,
      params.id,
      {
        ...(body.datasetId ? { datasetId: body.datasetId } : {}),
        ...(body.newDatasetName ? { newDatasetName: body.newDatasetName } : {}),
        filter: toFilter(body.filter),
        format: body.format,
        validationPercent: body.validationPercent,
      },
      actor,
      meta,
      env.LORAPLANE_DATA_DIR,
    ),
});
