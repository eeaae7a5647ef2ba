// Dataset upload: a multipart body of `<split>.jsonl` files becomes an immutable dataset version under the project's
// storage prefix. Every file is validated line by line and hashed while it streams into a temporary folder on the same
// filesystem; only a complete, valid upload is renamed into place (atomically) and recorded, so a malformed line or an
// oversized body leaves nothing behind.
//
// Versions are content-addressed on disk (`<prefix>/<datasetId>/<sha256>/`) and named v1, v2, … in the database.
// Dedupe: an upload whose digest equals an existing version of the same dataset stores nothing and answers that
// version (`deduplicated: true`); the same content in another dataset is a separate version.
import { randomUUID } from "node:crypto";
import { createHash, type Hash } from "node:crypto";
import { chmod, mkdir, open, rename, rm, type FileHandle } from "node:fs/promises";
import path from "node:path";
import { approxTokens, APPROX_TOKENS_LABEL, detectRowFormat, lengthHistogram, rowProblem, rowText, type TLengthHistogram, type TRowFormat } from "@loraplane/core";
import { type Db, findDatasetVersionBySha, insertUploadedDatasetVersion, type TDatasetVersionDetailRow } from "@loraplane/db";
import { recordAudit, type TActor, type TRequestMeta } from "../audit/index.ts";
import { PayloadTooLargeError, ValidationError } from "../errors.ts";
import { getDataset } from "./datasets.ts";
import { multipartBoundary, readMultipart, type TPartSink } from "./multipart.ts";
import { combineSplitDigests, measureDatasetDigest, orderSplits, projectDatasetPrefix } from "./storage.ts";

export type TSplitStats = { rows: number; bytes: number; sha256: string; format: TRowFormat; tokens: TLengthHistogram };
/** What DatasetVersion.stats holds for an uploaded version. */
export type TDatasetStats = { tokenizer: string; splits: Record<string, TSplitStats> };

const SPLIT_FILE = /^([A-Za-z0-9][A-Za-z0-9_.-]{0,63})\.jsonl$/;
const MAX_LINE_BYTES = 32 * 1024 * 1024;

function lineError(file: string, line: number, message: string): ValidationError {
  return new ValidationError(`${file} line ${line}: ${message}; nothing was stored`, [{ path: `${file}:${line}`, message }]);
}

/** One split file: written to disk, hashed and validated row by row as its bytes arrive. */
class JsonlSink implements TPartSink {
  private readonly hash: Hash = createHash("sha256");
  private readonly decoder = new TextDecoder("utf-8", { fatal: true });
  private pending: Buffer = Buffer.alloc(0);
  private line = 0;
  private firstRowLine = 0;
  bytes = 0;
  rows = 0;
  format: TRowFormat | null = null;
  sha256 = "";
  readonly lengths: number[] = [];

  constructor(
    readonly file: string,
    private readonly fh: FileHandle,
  ) {}

  async write(chunk: Buffer): Promise<void> {
    this.bytes += chunk.length;
    this.hash.update(chunk);
    await this.fh.write(chunk);
    let start = 0;
    for (let nl = chunk.indexOf(0x0a); nl >= 0; nl = chunk.indexOf(0x0a, start)) {
      const piece = chunk.subarray(start, nl);
      this.row(this.pending.length ? Buffer.concat([this.pending, piece]) : piece);
      this.pending = Buffer.alloc(0);
      start = nl + 1;
    }
    if (start < chunk.length) {
      this.pending = Buffer.concat([this.pending, chunk.subarray(start)]);
      if (this.pending.length > MAX_LINE_BYTES) throw lineError(this.file, this.line + 1, `line longer than ${MAX_LINE_BYTES} bytes`);
    }
  }

  async end(): Promise<void> {
    if (this.pending.length) this.row(this.pending);
    this.pending = Buffer.alloc(0);
    this.sha256 = this.hash.digest("hex");
    await this.close();
  }

  async close(): Promise<void> {
    await this.fh.close().catch(() => undefined);
  }

  private row(bytes: Buffer): void {
    this.line += 1;
    let text: string;
    try {
      text = this.decoder.decode(bytes);
    } catch {
      throw lineError(this.file, this.line, "not valid UTF-8");
    }
    if (text.trim() === "") return;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw lineError(this.file, this.line, `malformed JSON (${(error as Error).message})`);
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw lineError(this.file, this.line, "expected a JSON object");
    const row = value as Record<string, unknown>;
    const format = detectRowFormat(row);
    if (!format) throw lineError(this.file, this.line, "row is neither Alpaca (instruction/output) nor chat (messages)");
    if (this.format && format !== this.format) throw lineError(this.file, this.line, `${format} row in a file whose line ${this.firstRowLine} is ${this.format}`);
    const problem = rowProblem(row, format);
    if (problem) throw lineError(this.file, this.line, problem);
    if (!this.format) {
      this.format = format;
      this.firstRowLine = this.line;
    }
    this.lengths.push(approxTokens(rowText(row, format)));
    this.rows += 1;
  }
}

/** A part that is not a file (a form field): read and dropped. */
const discard: TPartSink = { write: async () => undefined, end: async () => undefined };

export type TUploadInput = { body: AsyncIterable<Uint8Array> | null; contentType: string | null; contentLength: number | null };

export async function uploadDatasetVersion(
  db: Db,
  datasetId: string,
  upload: TUploadInput,
  actor: TActor,
  meta: TRequestMeta,
  limits: { dataDir: string; maxBytes: number },
): Promise<{ version: TDatasetVersionDetailRow; deduplicated: boolean }> {
  const dataset = await getDataset(db, datasetId);
  const tooLarge = () => new PayloadTooLargeError(`the upload is over the limit of ${limits.maxBytes} bytes (DATASET_UPLOAD_MAX_BYTES); nothing was stored`);
  const boundary = multipartBoundary(upload.contentType);
  if (!boundary) {
    throw new ValidationError("send the files as multipart/form-data, one part per <split>.jsonl file", [{ path: "content-type", message: "must be multipart/form-data with a boundary" }]);
  }
  if (upload.contentLength != null && upload.contentLength > limits.maxBytes) throw tooLarge();
  if (!upload.body) throw new ValidationError("the upload has no files", [{ path: "body", message: "empty" }]);
  const source = upload.body;
  async function* counted() {
    let total = 0;
    for await (const chunk of source) {
      total += chunk.byteLength;
      if (total > limits.maxBytes) throw tooLarge();
      yield chunk;
    }
  }
  return storeDatasetVersion(db, dataset, actor, meta, limits.dataDir, { action: "dataset.version.upload" }, (openSplit) =>
    readMultipart(counted(), boundary, async (part) => (part.filename === null ? discard : openSplit(part.filename))),
  );
}

/** How a stored version is recorded: its audit action, and for versions built from feedback their lineage. */
export type TVersionRecord = { action: string; lineage?: Record<string, unknown>; sourceDeploymentId?: string };

/**
 * The one path every dataset version's files take (uploads and feedback slices): `feed` opens one sink per
 * `<split>.jsonl` file and writes its bytes; each is validated, hashed (the digest is ours) and written to a
 * temporary folder, then renamed into its content-addressed place and recorded with an audit entry. Nothing is
 * stored when anything fails.
 */
export async function storeDatasetVersion(
  db: Db,
  dataset: { id: string; name: string; projectId: string },
  actor: TActor,
  meta: TRequestMeta,
  dataDir: string,
  record: TVersionRecord,
  feed: (openSplit: (fileName: string) => Promise<TPartSink>) => Promise<void>,
): Promise<{ version: TDatasetVersionDetailRow; deduplicated: boolean }> {
  const datasetId = dataset.id;
  const prefix = projectDatasetPrefix(path.resolve(dataDir), dataset.projectId);
  const tmp = path.join(prefix, ".uploads", randomUUID());
  await mkdir(tmp, { recursive: true });
  const sinks = new Map<string, JsonlSink>();
  let finalDir: string | null = null;
  let placed = false;
  try {
    await feed(async (fileName) => {
      const base = fileName.split(/[\\/]/).pop() ?? "";
      const m = SPLIT_FILE.exec(base);
      if (!m) throw new ValidationError(`${base || "(unnamed file)"}: only <split>.jsonl files are accepted (train.jsonl, validation.jsonl, …)`, [{ path: base || "file", message: "not a <split>.jsonl file" }]);
      const split = m[1]!;
      if (sinks.has(split)) throw new ValidationError(`${base} was sent twice`, [{ path: base, message: "duplicate file" }]);
      const sink = new JsonlSink(base, await open(path.join(tmp, base), "wx"));
      sinks.set(split, sink);
      return sink;
    });
    if (sinks.size === 0) throw new ValidationError("the upload has no <split>.jsonl files", [{ path: "body", message: "no files" }]);
    const formats = new Map<TRowFormat, string>();
    for (const [split, s] of sinks) {
      if (s.rows === 0 || !s.format) throw new ValidationError(`${s.file} has no rows; nothing was stored`, [{ path: s.file, message: "empty" }]);
      formats.set(s.format, `${split}.jsonl`);
    }
    if (formats.size > 1) {
      throw new ValidationError(`${formats.get("alpaca")} is Alpaca but ${formats.get("chat")} is chat; a version has one format; nothing was stored`, [{ path: "body", message: "mixed formats" }]);
    }
    const digests = Object.fromEntries([...sinks].map(([split, s]) => [split, s.sha256]));
    const sha256 = combineSplitDigests(digests);
    const existing = await findDatasetVersionBySha(db, datasetId, sha256);
    if (existing) return { version: existing, deduplicated: true };

    const format = [...formats.keys()][0]!;
    const ordered = orderSplits([...sinks.keys()]);
    const splits = Object.fromEntries(ordered.map((n) => [n, { rows: sinks.get(n)!.rows, sha256: sinks.get(n)!.sha256 }]));
    const stats: TDatasetStats = {
      tokenizer: APPROX_TOKENS_LABEL,
      splits: Object.fromEntries(ordered.map((n) => { const s = sinks.get(n)!; return [n, { rows: s.rows, bytes: s.bytes, sha256: s.sha256, format: s.format!, tokens: lengthHistogram(s.lengths) }]; })),
    };
    for (const s of sinks.values()) await chmod(path.join(tmp, s.file), 0o444);

    finalDir = path.join(prefix, datasetId, sha256);
    await mkdir(path.dirname(finalDir), { recursive: true });
    try {
      await rename(tmp, finalDir);
      placed = true;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== "EEXIST" && code !== "ENOTEMPTY") throw error;
      // The same content is already in place (a concurrent identical upload, or a version row deleted since): keep
      // it when it really is this content.
      const there = await measureDatasetDigest(finalDir);
      if (!there.ok || there.sha256 !== sha256) throw new Error(`${finalDir} exists with other content`);
    }
    const rowCount = [...sinks.values()].reduce((n, s) => n + s.rows, 0);
    const sizeBytes = [...sinks.values()].reduce((n, s) => n + s.bytes, 0);
    const uri = `file://${finalDir}`;
    try {
      const version = await db.$transaction(async (tx) => {
        const v = await insertUploadedDatasetVersion(tx, {
          datasetId,
          uri,
          sha256,
          rowCount,
          sizeBytes: BigInt(sizeBytes),
          format,
          splits,
          stats,
          ...(record.lineage ? { lineage: record.lineage } : {}),
          ...(record.sourceDeploymentId ? { sourceDeploymentId: record.sourceDeploymentId } : {}),
        });
        await recordAudit(
          tx,
          actor,
          {
            projectId: dataset.projectId,
            action: record.action,
            subjectType: "dataset_version",
            subjectId: v.id,
            after: { dataset: dataset.name, version: v.version, sha256, uri, rowCount, sizeBytes, ...(record.lineage ? { lineage: record.lineage } : {}) },
          },
          meta,
        );
        return v;
      });
      return { version, deduplicated: false };
    } catch (error) {
      if (placed) await rm(finalDir, { recursive: true, force: true });
      throw error;
    }
  } finally {
    for (const s of sinks.values()) await s.close();
    await rm(tmp, { recursive: true, force: true });
  }
}
