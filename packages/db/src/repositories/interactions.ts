// Stored gateway interactions (prompt, response, feedback, correction) of environments that opted in, and the
// slices of them that become dataset versions.
import type { DbOrTx } from "../client.ts";
import type { Prisma } from "../generated/prisma/client.ts";

export type TInteractionWrite = {
  requestId: string;
  projectId: string;
  environmentId: string;
  deploymentId: string;
  variantId: string;
  variantRole: string;
  modelVersionId: string;
  endpointName: string;
  operation: string;
  prompt: object;
  response: string;
  truncated: boolean;
  streamed: boolean;
  tokenId: string | null;
  userId: string | null;
  rating: "up" | "down" | null;
  comment: string | null;
  ratedAt: Date | null;
  createdAt: Date;
};

/** Inserts a batch; a request id already stored is skipped (a retried flush never duplicates). */
export async function insertInteractions(db: DbOrTx, rows: readonly TInteractionWrite[]): Promise<number> {
  if (rows.length === 0) return 0;
  const r = await db.interaction.createMany({ data: rows.map((row) => ({ ...row, prompt: row.prompt as Prisma.InputJsonValue })), skipDuplicates: true });
  return r.count;
}

/** Attaches the caller's rating (and comment) to a stored interaction; 0 when it is not stored (yet, or at all). */
export async function rateInteraction(db: DbOrTx, requestId: string, rating: "up" | "down", comment: string | null, at: Date): Promise<number> {
  const r = await db.interaction.updateMany({ where: { requestId }, data: { rating, comment, ratedAt: at } });
  return r.count;
}

/** Which interactions a slice takes: `corrected` selects those with a reviewer's correction, `unrated` those without a rating. */
export type TInteractionFilter = {
  from?: Date;
  to?: Date;
  ratings?: readonly ("up" | "down" | "corrected" | "unrated")[];
  variantRole?: string;
  modelVersionId?: string;
};

function whereOf(deploymentId: string, f: TInteractionFilter): Prisma.InteractionWhereInput {
  const ratings = f.ratings ?? [];
  const or: Prisma.InteractionWhereInput[] = [];
  if (ratings.includes("up")) or.push({ rating: "up" });
  if (ratings.includes("down")) or.push({ rating: "down" });
  if (ratings.includes("corrected")) or.push({ correction: { not: null } });
  if (ratings.includes("unrated")) or.push({ rating: null, correction: null });
  return {
    deploymentId,
    ...(f.from || f.to ? { createdAt: { ...(f.from ? { gte: f.from } : {}), ...(f.to ? { lt: f.to } : {}) } } : {}),
    ...(f.variantRole ? { variantRole: f.variantRole } : {}),
    ...(f.modelVersionId ? { modelVersionId: f.modelVersionId } : {}),
    ...(or.length ? { OR: or } : {}),
  };
}

const interactionSelect = {
  id: true,
  requestId: true,
  deploymentId: true,
  variantRole: true,
  modelVersionId: true,
  endpointName: true,
  operation: true,
  prompt: true,
  response: true,
  truncated: true,
  streamed: true,
  rating: true,
  comment: true,
  ratedAt: true,
  correction: true,
  correctedById: true,
  correctedAt: true,
  createdAt: true,
} as const;

export type TInteractionRow = {
  id: string;
  requestId: string;
  deploymentId: string;
  variantRole: string;
  modelVersionId: string;
  endpointName: string;
  operation: string;
  prompt: unknown;
  response: string;
  truncated: boolean;
  streamed: boolean;
  rating: "up" | "down" | null;
  comment: string | null;
  ratedAt: Date | null;
  correction: string | null;
  correctedById: string | null;
  correctedAt: Date | null;
  createdAt: Date;
};

/** Newest first, keyset-paged on (createdAt, id). */
export function listInteractions(db: DbOrTx, deploymentId: string, filter: TInteractionFilter, page: { limit: number; before?: { createdAt: Date; id: string } }): Promise<TInteractionRow[]> {
  const where = whereOf(deploymentId, filter);
  const before = page.before;
  return db.interaction.findMany({
    where: before ? { AND: [where, { OR: [{ createdAt: { lt: before.createdAt } }, { createdAt: before.createdAt, id: { lt: before.id } }] }] } : where,
    select: interactionSelect,
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take: page.limit,
  });
}

/** Counts of the filtered slice: all of it, and how many have a usable target (a correction or a thumbs-up). */
export async function countInteractions(db: DbOrTx, deploymentId: string, filter: TInteractionFilter): Promise<{ matched: number; usable: number }> {
  const where = whereOf(deploymentId, filter);
  const [matched, usable] = await Promise.all([
    db.interaction.count({ where }),
    db.interaction.count({ where: { AND: [where, { OR: [{ correction: { not: null } }, { rating: "up" }] }] } }),
  ]);
  return { matched, usable };
}

/** The usable rows of a slice (a correction or a thumbs-up), oldest first, at most `max`. */
export function listUsableInteractions(db: DbOrTx, deploymentId: string, filter: TInteractionFilter, max: number): Promise<TInteractionRow[]> {
  return db.interaction.findMany({
    where: { AND: [whereOf(deploymentId, filter), { OR: [{ correction: { not: null } }, { rating: "up" }] }] },
    select: interactionSelect,
    orderBy: [{ createdAt: "asc" }, { id: "asc" }],
    take: max,
  });
}

export function findInteraction(db: DbOrTx, id: string): Promise<TInteractionRow | null> {
  return db.interaction.findUnique({ where: { id }, select: interactionSelect });
}

export function setInteractionCorrection(db: DbOrTx, id: string, data: { correction: string | null; correctedById: string | null; correctedAt: Date | null }): Promise<TInteractionRow> {
  return db.interaction.update({ where: { id }, data, select: interactionSelect });
}

/** Deletes interactions older than their environment's feedbackRetentionDays; returns how many. */
export function deleteExpiredInteractions(db: DbOrTx, now: Date): Promise<number> {
  return db.$executeRaw`
    DELETE FROM "Interaction" i USING "Environment" e
    WHERE i."environmentId" = e.id AND i."createdAt" < ${now}::timestamptz - make_interval(days => e."feedbackRetentionDays")`;
}
