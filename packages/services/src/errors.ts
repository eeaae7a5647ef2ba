// The one error hierarchy of the services. The REST layer maps `status` and `code` to the response and returns
// `issues` as the per-field details; workers log `message`.
import type { z } from "zod";

export interface TFieldIssue {
  /** Dotted path of the offending field in the request body ("spec.training.learningRate"). */
  path: string;
  message: string;
}

export abstract class ServiceError extends Error {
  abstract readonly status: number;
  abstract readonly code: string;
  constructor(
    message: string,
    readonly issues: TFieldIssue[] = [],
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class ValidationError extends ServiceError {
  readonly status = 400;
  readonly code = "validation_failed";
}

export class UnauthorizedError extends ServiceError {
  readonly status = 401;
  readonly code = "unauthorized";
}

export class ForbiddenError extends ServiceError {
  readonly status = 403;
  readonly code = "forbidden";
}

export class NotFoundError extends ServiceError {
  readonly status = 404;
  readonly code = "not_found";
}

export class ConflictError extends ServiceError {
  readonly status = 409;
  readonly code = "conflict";
}

/** The same Idempotency-Key came with a different request body (like Stripe: 422, the first request's run stands). */
export class IdempotencyKeyReusedError extends ServiceError {
  readonly status = 422;
  readonly code = "idempotency_key_reused";
}

export class PayloadTooLargeError extends ServiceError {
  readonly status = 413;
  readonly code = "payload_too_large";
}

export function isServiceError(error: unknown): error is ServiceError {
  return error instanceof ServiceError;
}

export function issuePath(path: readonly PropertyKey[], prefix?: string): string {
  const joined = path.reduce<string>(
    (acc, part) => (typeof part === "number" ? `${acc}[${part}]` : acc ? `${acc}.${String(part)}` : String(part)),
    "",
  );
  return prefix ? (joined ? (joined.startsWith("[") ? `${prefix}${joined}` : `${prefix}.${joined}`) : prefix) : joined;
}

/** A ValidationError listing every zod issue with its field path (under `prefix`, e.g. "spec"). */
export function validationFromZod(error: z.ZodError, prefix?: string): ValidationError {
  const issues = error.issues.map((i) => ({ path: issuePath(i.path, prefix), message: i.message }));
  const first = issues[0];
  return new ValidationError(first ? `${first.path || "(body)"}: ${first.message}` : "invalid input", issues);
}

/** Parses with a zod schema or throws a ValidationError naming the fields. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, prefix?: string): z.infer<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw validationFromZod(parsed.error, prefix);
  return parsed.data;
}
