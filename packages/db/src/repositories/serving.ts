import type { DbOrTx } from "../client.ts";
import type { ExecutorKind, VariantStatus } from "../generated/prisma/enums.ts";

/** What a gateway counts for one variant in one window; the columns shared by writes and reads. */
export type TServingWindowTotals = {
  requests: number;
  errors: number;
  errors4xx: number;
  errors5xx: number;
  timeouts: number;
  latencyHist: number[];
  ttftHist: number[];
  latencySumMs: number;
  outputTokens: number;
  feedbackUp: number;
  feedbackDown: number;
};

export type TServingWindowWrite = TServingWindowTotals & {
  deploymentId: string;
  variantId: string;
  gatewayId: string;
  windowStart: Date;
  windowSeconds: number;
};

/**
 * Writes a gateway's cumulative totals for one window. The gateway always sends the whole window, so the upsert
 * overwrites: a flush retried after a timeout, or repeated after a crash, never double counts.
 */
export async function upsertServingWindows(db: DbOrTx, rows: TServingWindowWrite[]): Promise<void> {
  for (const row of rows) {
    const { deploymentId, variantId, gatewayId, windowStart, ...totals } = row;
    await db.servingWindow.upsert({
      where: { variantId_gatewayId_windowStart: { variantId, gatewayId, windowStart } },
      create: { deploymentId, variantId, gatewayId, windowStart, ...totals },
      update: totals,
    });
  }
}

export type TServingWindowRow = Omit<TServingWindowWrite, "deploymentId">;

const windowRowSelect = {
  variantId: true,
  gatewayId: true,
  windowStart: true,
  windowSeconds: true,
  requests: true,
  errors: true,
  errors4xx: true,
  errors5xx: true,
  timeouts: true,
  latencyHist: true,
  ttftHist: true,
  latencySumMs: true,
  outputTokens: true,
  feedbackUp: true,
  feedbackDown: true,
} as const satisfies Record<keyof TServingWindowRow, true>;

export function listServingWindows(db: DbOrTx, filter: { deploymentId: string; since?: Date; until?: Date; variantId?: string }): Promise<TServingWindowRow[]> {
  return db.servingWindow.findMany({
    where: {
      deploymentId: filter.deploymentId,
      ...(filter.variantId ? { variantId: filter.variantId } : {}),
      ...(filter.since || filter.until ? { windowStart: { ...(filter.since ? { gte: filter.since } : {}), ...(filter.until ? { lt: filter.until } : {}) } } : {}),
    },
    select: windowRowSelect,
    orderBy: { windowStart: "asc" },
  });
}

export type TServingInstanceRow = {
  id: string;
  environmentId: string;
  baseModel: string;
  kind: ExecutorKind;
  url: string;
  externalId: string | null;
  status: VariantStatus;
  adapters: string[];
};

const instanceSelect = { id: true, environmentId: true, baseModel: true, kind: true, url: true, externalId: true, status: true, adapters: true } as const;

export function findServingInstance(db: DbOrTx, environmentId: string, baseModel: string): Promise<TServingInstanceRow | null> {
  return db.servingInstance.findUnique({ where: { environmentId_baseModel: { environmentId, baseModel } }, select: instanceSelect });
}

export function listServingInstances(db: DbOrTx, filter: { kind?: ExecutorKind } = {}): Promise<TServingInstanceRow[]> {
  return db.servingInstance.findMany({ where: filter, select: instanceSelect });
}

export function upsertServingInstance(
  db: DbOrTx,
  data: { environmentId: string; baseModel: string; kind: ExecutorKind; url: string; externalId?: string | null; status: VariantStatus; adapters?: string[] },
): Promise<TServingInstanceRow> {
  const { environmentId, baseModel, ...rest } = data;
  return db.servingInstance.upsert({
    where: { environmentId_baseModel: { environmentId, baseModel } },
    create: { environmentId, baseModel, ...rest, adapters: rest.adapters ?? [] },
    update: rest,
    select: instanceSelect,
  });
}

export async function updateServingInstance(
  db: DbOrTx,
  id: string,
  patch: { status?: VariantStatus; url?: string; externalId?: string | null; adapters?: string[] },
): Promise<void> {
  await db.servingInstance.update({ where: { id }, data: patch });
}
