import type { ServerResponse } from "node:http";

/** An error answered to the client in OpenAI's error shape, naming the offending parameter. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type = "invalid_request_error",
    readonly param: string | null = null,
    /** Extra fields of the error object (e.g. the environments to choose from). */
    readonly details: Record<string, unknown> | null = null,
  ) {
    super(message);
  }
}

export function sendError(
  res: ServerResponse,
  status: number,
  message: string,
  type = "invalid_request_error",
  param: string | null = null,
  details: Record<string, unknown> | null = null,
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ error: { message, type, param, code: status, ...details } });
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}
