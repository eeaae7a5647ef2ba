import { isServiceError, type TFieldIssue } from "@loraplane/services";
import type { Logger } from "pino";
import { z } from "./zod.ts";

/** Errors the HTTP layer raises itself; service errors carry their own status and code. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly issues: TFieldIssue[] = [],
  ) {
    super(message);
  }
}

export const unauthenticated = () =>
  new HttpError(401, "unauthorized", "authentication required: sign in, or send 'Authorization: Bearer <api token>'");
export const forbidden = (message: string) => new HttpError(403, "forbidden", message);
export const notFound = (what: string) => new HttpError(404, "not_found", `${what} not found`);

export const ZErrorBody = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  }),
  requestId: z.string(),
});
export type TErrorBody = z.infer<typeof ZErrorBody>;

export function errorBody(status: number, code: string, message: string, requestId: string, issues: TFieldIssue[] = []) {
  const body: TErrorBody = { error: { code, message, ...(issues.length ? { issues } : {}) }, requestId };
  return Response.json(body, { status, headers: { "x-request-id": requestId } });
}

/** The one mapping from anything thrown to the one error body; unknown errors are logged and never described. */
export function errorResponse(error: unknown, requestId: string, log: Logger): Response {
  if (error instanceof HttpError || isServiceError(error)) {
    return errorBody(error.status, error.code, error.message, requestId, error.issues);
  }
  // Races that slip past a service's checks surface as Prisma's unique / missing-row errors.
  const prismaCode = (error as { code?: unknown } | null)?.code;
  if (prismaCode === "P2002") return errorBody(409, "conflict", "the object already exists (unique constraint)", requestId);
  if (prismaCode === "P2025") return errorBody(404, "not_found", "the object does not exist (anymore)", requestId);
  log.error({ err: error, requestId }, "unhandled error in API route");
  return errorBody(500, "internal_error", "internal error; the server log has the details under this request id", requestId);
}
