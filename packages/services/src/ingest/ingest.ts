// Ingest from running workloads (train/eval containers), called by the REST ingest routes and, for the local
// executor, by the worker that reads the workload's stdout. Everything here is idempotent: metric points are keyed
// by (run, key, step) with last write wins, artifacts by (run, uri), heartbeats only move timestamps forward.
import { createHash, randomBytes } from "node:crypto";
import {
  downsampleSeriesM4,
  findArtifactsByUris,
  findRunById,
  findSeriesStats,
  findStageRun,
  findValidRunToken,
  insertRunToken,
  listSeriesPoints,
  revokeRunTokens,
  upsertArtifacts,
  upsertMetricPoints,
  updateStageRunIf,
  type Db,
  type DbOrTx,
  type StageName,
} from "@loraplane/db";
import { z } from "zod";
import { ConflictError, ForbiddenError, NotFoundError, parseInput, PayloadTooLargeError, UnauthorizedError } from "../errors.ts";

export const MAX_POINTS_PER_BATCH = 1000;
export const MAX_BATCH_BYTES = 1_048_576;

export const ZMetricPoint = z.object({
  key: z.string().min(1).max(250).regex(/^[\w./:-]+$/, "may contain letters, digits and _ . / : - only"),
  step: z.number().int().min(0).max(2_147_483_647),
  value: z.number().refine(Number.isFinite, "must be a finite number"),
  /** Milliseconds since the epoch, or an ISO date; defaults to the time of ingest. */
  timestamp: z.union([z.number().int().positive(), z.iso.datetime({ offset: true })]).optional(),
});
export const ZMetricBatch = z.array(ZMetricPoint).max(MAX_POINTS_PER_BATCH, `at most ${MAX_POINTS_PER_BATCH} points per request`);
export type TMetricPoint = z.infer<typeof ZMetricPoint>;

async function requireRun(db: DbOrTx, runId: string) {
  const run = await findRunById(db, runId);
  if (!run) throw new NotFoundError(`run ${runId} not found`);
  return run;
}

/** Writes one batch (≤ 1000 points, ≤ 1 MB) and its series' rollups in one statement (one transaction). Repeated (key, step): the last one wins. */
export async function ingestMetricPoints(db: Db, runId: string, points: unknown): Promise<{ accepted: number }> {
  if (Array.isArray(points) && points.length > MAX_POINTS_PER_BATCH) {
    throw new PayloadTooLargeError(`at most ${MAX_POINTS_PER_BATCH} points per request (got ${points.length})`, [{ path: "points", message: `at most ${MAX_POINTS_PER_BATCH} points` }]);
  }
  const parsed = parseInput(ZMetricBatch, points, "points");
  if (Buffer.byteLength(JSON.stringify(parsed)) > MAX_BATCH_BYTES) {
    throw new PayloadTooLargeError("a metric batch may be at most 1 MB", [{ path: "points", message: "at most 1 MB" }]);
  }
  const now = Date.now();
  const accepted = await upsertMetricPoints(
    db,
    runId,
    parsed.map((p) => ({ key: p.key, step: p.step, value: p.value, wallTime: new Date(p.timestamp ?? now) })),
  );
  if (accepted === null) throw new NotFoundError(`run ${runId} not found`);
  return { accepted };
}

export const ZHeartbeat = z.object({
  stage: z.string().optional(),
  step: z.number().int().min(0).optional(),
  totalSteps: z.number().int().min(0).optional(),
  progress: z.number().min(0).max(1).optional(),
  etaSeconds: z.number().min(0).nullable().optional(),
});

/** Moves the heartbeat of the token's stage attempt to now and records its progress. */
export async function recordHeartbeat(db: Db, claims: TRunTokenClaims, body: unknown): Promise<{ stage: StageName; heartbeatAt: Date }> {
  const hb = parseInput(ZHeartbeat, body);
  // The runtime's reporter sends stage "" before its first progress line: absent, not another stage.
  if (hb.stage && hb.stage !== claims.stage) {
    throw new ForbiddenError(`this run token is for the ${claims.stage} stage, not "${hb.stage}"`, [{ path: "stage", message: `must be ${claims.stage} (the token's stage)` }]);
  }
  const heartbeatAt = new Date();
  const updated = await updateStageRunIf(db, claims.stageRunId, ["running"], {
    heartbeatAt,
    ...(hb.step === undefined ? {} : { step: hb.step }),
    ...(hb.totalSteps === undefined ? {} : { totalSteps: hb.totalSteps }),
    ...(hb.progress === undefined ? {} : { progress: hb.progress }),
    ...(hb.etaSeconds === undefined ? {} : { etaSeconds: hb.etaSeconds }),
  });
  if (!updated) throw new ForbiddenError(`${claims.stage} attempt ${claims.attempt} of run ${claims.runId} is no longer running`);
  return { stage: claims.stage, heartbeatAt };
}

export const ZArtifactManifest = z.object({
  kind: z.enum(["adapter", "checkpoint", "eval_report", "merged_model", "onnx", "dataset", "logs", "other"]),
  uri: z.string().min(1).max(2000).regex(/^[a-z][a-z0-9+.-]*:\/\//, "must be a URI such as file:///… or s3://…"),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, "must be a hex sha256").optional(),
  sizeBytes: z.number().int().min(0).optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
});
export const ZArtifactsBody = z.object({ artifacts: z.array(ZArtifactManifest).min(1).max(100) });

/**
 * Records artifacts of the token's stage attempt. Only the train stage may report an adapter (what gets evaluated
 * and registered), and an artifact another stage attempt reported is never overwritten.
 */
export async function recordArtifacts(db: Db, claims: TRunTokenClaims, body: unknown) {
  const { artifacts } = parseInput(ZArtifactsBody, body);
  artifacts.forEach((a, i) => {
    if (a.kind === "adapter" && claims.stage !== "train") {
      throw new ForbiddenError(`only the train stage reports adapters; this token is for ${claims.stage}`, [{ path: `artifacts[${i}].kind`, message: "adapter artifacts come from the train stage only" }]);
    }
  });
  const existing = await findArtifactsByUris(db, claims.runId, artifacts.map((a) => a.uri));
  const foreign = existing.find((e) => e.stageRunId !== claims.stageRunId);
  if (foreign) {
    const i = artifacts.findIndex((a) => a.uri === foreign.uri);
    throw new ConflictError(`artifact ${foreign.uri} was reported by another stage attempt and is immutable`, [{ path: `artifacts[${i}].uri`, message: "already reported by another stage attempt" }]);
  }
  const rows = await upsertArtifacts(
    db,
    claims.runId,
    claims.stageRunId,
    artifacts.map((a) => ({ kind: a.kind, uri: a.uri, sha256: a.sha256 ?? null, sizeBytes: a.sizeBytes ?? null, ...(a.metadata ? { metadata: a.metadata as object } : {}) })),
  );
  return { artifacts: rows.map((r) => ({ id: r.id, kind: r.kind, uri: r.uri })) };
}

const hashSecret = (secret: string) => createHash("sha256").update(secret).digest("hex");

/** What a valid run token proves: its holder is the workload of this stage attempt, which is still running. */
export interface TRunTokenClaims {
  runId: string;
  stage: StageName;
  attempt: number;
  stageRunId: string;
}

/** A credential for one attempt of one stage of one run, handed to the workload; only its hash is stored. */
export async function issueRunToken(
  db: DbOrTx,
  to: { runId: string; stage: StageName; attempt: number },
  ttlSeconds: number,
): Promise<{ secret: string; expiresAt: Date }> {
  const secret = `lprt_${randomBytes(24).toString("base64url")}`;
  const expiresAt = new Date(Date.now() + ttlSeconds * 1000);
  await insertRunToken(db, { runId: to.runId, stage: to.stage, attempt: to.attempt, secretHash: hashSecret(secret), expiresAt });
  return { secret, expiresAt };
}

/** Revokes the tokens of one stage attempt (called when the attempt ends: succeeded, failed or cancelled). */
export function revokeStageRunTokens(db: DbOrTx, runId: string, stage: StageName, attempt: number): Promise<number> {
  return revokeRunTokens(db, runId, stage, attempt);
}

/**
 * Checks a workload's bearer secret: valid only for its own run, until it expires or is revoked (401), and only while
 * the stage attempt it was issued for is running (403 afterwards, whatever the expiry says).
 */
export async function authenticateRunToken(db: DbOrTx, runId: string, bearerSecret: string | null | undefined): Promise<TRunTokenClaims> {
  if (!bearerSecret) throw new UnauthorizedError("missing run token");
  const token = await findValidRunToken(db, runId, hashSecret(bearerSecret), new Date());
  if (!token) throw new UnauthorizedError("invalid, expired or revoked run token for this run");
  const stageRun = await findStageRun(db, token.runId, token.stage, token.attempt);
  if (!stageRun || stageRun.status !== "running") {
    throw new ForbiddenError(`this run token is for ${token.stage} attempt ${token.attempt}, which is ${stageRun ? stageRun.status : "gone"}, not running`);
  }
  return { runId: token.runId, stage: token.stage, attempt: token.attempt, stageRunId: stageRun.id };
}

export const ZMetricQuery = z.object({
  runId: z.string().min(1),
  keys: z.array(z.string().min(1)).min(1).max(50),
  // M4 returns up to 4 points per bucket, so fewer than 4 cannot be honoured once a series is downsampled.
  maxPoints: z.number().int().min(4).max(10_000).default(1000),
});

/**
 * Each requested series: whole when it has at most maxPoints points, else downsampled in Postgres with M4 into
 * floor(maxPoints / 4) equal step ranges, which keeps the first and last step and the global minimum and maximum.
 * Every returned point is a stored one (with its wallTime), sorted by step.
 */
export async function queryMetricSeries(db: Db, query: z.input<typeof ZMetricQuery>) {
  const { runId, keys, maxPoints } = parseInput(ZMetricQuery, query);
  await requireRun(db, runId);
  const stats = await findSeriesStats(db, runId, keys);
  return Promise.all(
    stats.map(async (s) => {
      const points = s.count <= maxPoints ? await listSeriesPoints(db, s.id) : await downsampleSeriesM4(db, s, Math.floor(maxPoints / 4));
      return { key: s.key, total: s.count, downsampled: points.length < s.count, points };
    }),
  );
}
