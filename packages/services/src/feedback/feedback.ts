// The feedback loop: interactions the gateway stored (environments that opted in) are previewed and corrected on the
// deployment page, and a filtered slice of them becomes a new dataset version with its lineage (deployment, window,
// filter). Rows: prompt → the reviewer's correction, or the response the caller rated thumbs-up; nothing else has a
// target worth training on.
import { createHash } from "node:crypto";
import {
  countInteractions,
  type Db,
  deleteExpiredInteractions,
  findDeploymentById,
  findEnvironmentById,
  findInteraction,
  listInteractions,
  listUsableInteractions,
  setInteractionCorrection,
  type TDatasetVersionDetailRow,
  type TInteractionFilter,
  type TInteractionRow,
} from "@loraplane/db";
import { recordAudit, type TActor, type TRequestMeta } from "../audit/index.ts";
import { createDataset, getDataset } from "../datasets/datasets.ts";
import { storeDatasetVersion } from "../datasets/upload.ts";
import { ConflictError, NotFoundError, ValidationError } from "../errors.ts";

/** Largest slice one dataset version takes (its rows are built in memory). */
export const MAX_FEEDBACK_ROWS = 50_000;

export type TFeedbackRow = { split: "train" | "validation"; row: Record<string, unknown> };
export type TFeedbackFormat = "chat" | "alpaca";

async function deploymentOf(db: Db, deploymentId: string) {
  const deployment = await findDeploymentById(db, deploymentId);
  if (!deployment) throw new NotFoundError(`deployment ${deploymentId} not found`);
  return deployment;
}

function checkWindow(filter: TInteractionFilter): void {
  if (filter.from && filter.to && filter.from >= filter.to) throw new ValidationError("filter.to must be after filter.from", [{ path: "filter.to", message: "must be after filter.from" }]);
}

/** A page of a deployment's stored interactions matching `filter`, newest first, with the counts of the whole slice. */
export async function listDeploymentInteractions(
  db: Db,
  deploymentId: string,
  filter: TInteractionFilter,
  page: { limit: number; cursor?: string },
): Promise<{ capture: { enabled: boolean; retentionDays: number }; matched: number; usable: number; items: TInteractionRow[]; nextCursor: string | null }> {
  const deployment = await deploymentOf(db, deploymentId);
  checkWindow(filter);
  const env = await findEnvironmentById(db, deployment.environmentId);
  let before: { createdAt: Date; id: string } | undefined;
  if (page.cursor) {
    const [at, id] = page.cursor.split("_");
    const createdAt = new Date(Number(at));
    if (!id || Number.isNaN(createdAt.getTime())) throw new ValidationError("cursor is not one this API returned", [{ path: "cursor", message: "invalid" }]);
    before = { createdAt, id };
  }
  const [counts, items] = await Promise.all([countInteractions(db, deploymentId, filter), listInteractions(db, deploymentId, filter, { limit: page.limit + 1, before })]);
  const more = items.length > page.limit;
  const shown = more ? items.slice(0, page.limit) : items;
  const last = shown[shown.length - 1];
  return {
    capture: { enabled: env?.captureFeedbackData ?? false, retentionDays: env?.feedbackRetentionDays ?? 0 },
    ...counts,
    items: shown,
    nextCursor: more && last ? `${last.createdAt.getTime()}_${last.id}` : null,
  };
}

/** A reviewer's corrected answer for one live sample (null clears it): it becomes the target text of the row. */
export async function correctInteraction(
  db: Db,
  deploymentId: string,
  interactionId: string,
  correction: string | null,
  actor: TActor,
  meta: TRequestMeta,
): Promise<TInteractionRow> {
  const deployment = await deploymentOf(db, deploymentId);
  const before = await findInteraction(db, interactionId);
  if (!before || before.deploymentId !== deployment.id) throw new NotFoundError(`interaction ${interactionId} not found on deployment ${deploymentId}`);
  const text = correction?.trim() ? correction : null;
  return db.$transaction(async (tx) => {
    const after = await setInteractionCorrection(tx, interactionId, { correction: text, correctedById: text ? actor.userId : null, correctedAt: text ? new Date() : null });
    await recordAudit(
      tx,
      actor,
      {
        projectId: deployment.projectId,
        action: text ? "interaction.correct" : "interaction.correction.clear",
        subjectType: "interaction",
        subjectId: interactionId,
        before: { correction: before.correction },
        after: { correction: text, deploymentId },
      },
      meta,
    );
    return after;
  });
}

function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  // OpenAI content parts: keep the text ones.
  if (Array.isArray(content)) return content.map((p) => (p && typeof p === "object" && typeof (p as { text?: unknown }).text === "string" ? (p as { text: string }).text : "")).join("");
  return "";
}

type TMessage = { role: string; content: string };

function promptMessages(i: TInteractionRow): TMessage[] {
  const prompt = (i.prompt ?? {}) as { messages?: unknown; prompt?: unknown };
  if (Array.isArray(prompt.messages)) {
    return prompt.messages
      .filter((m): m is { role: unknown; content: unknown } => !!m && typeof m === "object")
      .map((m) => ({ role: typeof m.role === "string" ? m.role : "user", content: textOf(m.content) }))
      .filter((m) => m.role !== "assistant" || m.content !== "");
  }
  const text = Array.isArray(prompt.prompt) ? prompt.prompt.filter((p) => typeof p === "string").join("\n") : textOf(prompt.prompt);
  return [{ role: "user", content: text }];
}

/**
 * The training row of one interaction, or null when it has no target (neither corrected nor rated up) or no prompt.
 * Chat keeps every prompt message; Alpaca takes the system message as `input` context and the last user message as
 * the instruction (earlier turns are dropped: Alpaca has no place for them).
 */
export function feedbackRow(i: TInteractionRow, format: TFeedbackFormat): Record<string, unknown> | null {
  const target = i.correction ?? (i.rating === "up" ? i.response : null);
  if (target === null || target === "") return null;
  const messages = promptMessages(i);
  const lastUser = [...messages].reverse().find((m) => m.role === "user");
  if (!lastUser || lastUser.content === "") return null;
  if (format === "chat") return { messages: [...messages, { role: "assistant", content: target }] };
  const system = messages.find((m) => m.role === "system")?.content ?? "";
  return { instruction: lastUser.content, input: system, output: target };
}

/** A stable split: the same interaction lands in the same split in every version built from it. */
function splitOf(requestId: string, validationPercent: number): "train" | "validation" {
  if (validationPercent <= 0) return "train";
  const bucket = createHash("sha256").update(requestId).digest().readUInt32BE(0) % 100;
  return bucket < validationPercent ? "validation" : "train";
}

export type TFeedbackDatasetInput = {
  /** An existing dataset of the deployment's project, or the name of a new one. */
  datasetId?: string;
  newDatasetName?: string;
  filter: TInteractionFilter;
  format: TFeedbackFormat;
  validationPercent: number;
};

/**
 * Turns the usable interactions of a filtered slice into a new dataset version, through the same storage path as an
 * upload (validated, digest computed by us, content-addressed, immutable), recording its lineage.
 */
export async function createFeedbackDatasetVersion(
  db: Db,
  deploymentId: string,
  input: TFeedbackDatasetInput,
  actor: TActor,
  meta: TRequestMeta,
  dataDir: string,
): Promise<{ version: TDatasetVersionDetailRow; deduplicated: boolean; dataset: { id: string; name: string }; skipped: number }> {
  const deployment = await deploymentOf(db, deploymentId);
  checkWindow(input.filter);
  if (!input.datasetId === !input.newDatasetName) {
    throw new ValidationError("give either datasetId (an existing dataset) or newDatasetName", [{ path: "datasetId", message: "exactly one of datasetId and newDatasetName" }]);
  }
  if (input.datasetId) {
    const existing = await getDataset(db, input.datasetId).catch(() => null);
    // Another project's dataset answers like a missing one.
    if (!existing || existing.projectId !== deployment.projectId) throw new ValidationError(`datasetId: no dataset ${input.datasetId} in this project`, [{ path: "datasetId", message: "not found in this project" }]);
  }
  const counts = await countInteractions(db, deploymentId, input.filter);
  if (counts.usable === 0) {
    throw new ValidationError(
      `the filter matches ${counts.matched} interaction(s), none with a target (a reviewer's correction or a thumbs-up); nothing was stored`,
      [{ path: "filter", message: "no usable interactions" }],
    );
  }
  if (counts.usable > MAX_FEEDBACK_ROWS) {
    throw new ValidationError(`the filter matches ${counts.usable} usable interactions, over ${MAX_FEEDBACK_ROWS}; narrow the window`, [{ path: "filter", message: `over ${MAX_FEEDBACK_ROWS} rows` }]);
  }
  const interactions = await listUsableInteractions(db, deploymentId, input.filter, MAX_FEEDBACK_ROWS);
  const rows: TFeedbackRow[] = [];
  for (const i of interactions) {
    const row = feedbackRow(i, input.format);
    if (row) rows.push({ split: splitOf(i.requestId, input.validationPercent), row });
  }
  if (rows.length === 0) throw new ValidationError("none of the matching interactions has a prompt to train on; nothing was stored", [{ path: "filter", message: "no usable interactions" }]);
  // A tiny slice may hash every row into validation: training needs rows.
  if (!rows.some((r) => r.split === "train")) rows[0]!.split = "train";

  let dataset: { id: string; name: string; projectId: string };
  if (input.datasetId) dataset = await getDataset(db, input.datasetId);
  else {
    try {
      dataset = await createDataset(db, deployment.projectId, { name: input.newDatasetName!, description: `Built from feedback on ${deployment.endpointName}` }, actor, meta);
    } catch (error) {
      if (error instanceof ConflictError) throw new ConflictError(error.message, [{ path: "newDatasetName", message: "already taken" }]);
      throw error;
    }
  }
  const env = await findEnvironmentById(db, deployment.environmentId);
  const lineage = {
    kind: "feedback",
    deploymentId: deployment.id,
    endpointName: deployment.endpointName,
    environment: env?.name ?? null,
    window: { from: input.filter.from?.toISOString() ?? null, to: input.filter.to?.toISOString() ?? null },
    filter: { ratings: input.filter.ratings ?? [], variantRole: input.filter.variantRole ?? null, modelVersionId: input.filter.modelVersionId ?? null },
    format: input.format,
    interactions: counts.matched,
    rows: rows.length,
  };
  const result = await storeDatasetVersion(db, dataset, actor, meta, dataDir, { action: "dataset.version.from_feedback", lineage, sourceDeploymentId: deployment.id }, async (openSplit) => {
    for (const split of ["train", "validation"] as const) {
      const lines = rows.filter((r) => r.split === split).map((r) => `${JSON.stringify(r.row)}\n`);
      if (lines.length === 0) continue;
      const sink = await openSplit(`${split}.jsonl`);
      await sink.write(Buffer.from(lines.join(""), "utf8"));
      await sink.end();
    }
  });
  return { ...result, dataset: { id: dataset.id, name: dataset.name }, skipped: counts.matched - rows.length };
}

/** Deletes interactions past their environment's retention (run by the workers). */
export function purgeExpiredInteractions(db: Db, now = new Date()): Promise<number> {
  return deleteExpiredInteractions(db, now);
}
