// Browser-side access to /api/v1: one fetch wrapper so every page gets the same error shape and sign-in redirect.
// CSRF needs nothing here: the API refuses cookie-authenticated writes whose Origin is not its own, and fetch sends it.

export interface TFieldIssue {
  path: string;
  message: string;
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly issues: TFieldIssue[];
  /** Quoted to operators: the server logs the details of a 500 under this id. */
  readonly requestId: string | null;

  constructor(status: number, code: string, message: string, issues: TFieldIssue[] = [], requestId: string | null = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.issues = issues;
    this.requestId = requestId;
  }
}

function issuePath(path: unknown): string {
  if (Array.isArray(path)) return path.join(".");
  return typeof path === "string" ? path : "";
}

/** Reads the API's error body, tolerating proxies and crashes that answer with HTML or nothing. */
export function toApiError(status: number, body: unknown, fallback: string): ApiError {
  const record = (body && typeof body === "object" ? body : {}) as Record<string, unknown>;
  const inner = (record.error && typeof record.error === "object" ? record.error : record) as Record<string, unknown>;
  const rawIssues = Array.isArray(inner.issues) ? inner.issues : Array.isArray(record.issues) ? record.issues : [];
  const issues = rawIssues.map((raw) => {
    const issue = (raw ?? {}) as Record<string, unknown>;
    return { path: issuePath(issue.path), message: String(issue.message ?? "invalid") };
  });
  const message = typeof inner.message === "string" ? inner.message : typeof record.error === "string" ? record.error : fallback;
  const code = typeof inner.code === "string" ? inner.code : `http_${status}`;
  return new ApiError(status, code, message, issues, typeof record.requestId === "string" ? record.requestId : null);
}

export interface TRequestOptions {
  method?: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export async function api<T>(path: string, options: TRequestOptions = {}): Promise<T> {
  const method = options.method ?? "GET";
  const headers: Record<string, string> = { accept: "application/json", ...options.headers };
  if (options.body !== undefined) headers["content-type"] = "application/json";
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      credentials: "same-origin",
      signal: options.signal,
      cache: "no-store",
    });
  } catch (error) {
    if ((error as Error).name === "AbortError") throw error;
    throw new ApiError(0, "network", "Cannot reach the server. Check your connection and try again.");
  }
  const text = await response.text();
  let body: unknown = undefined;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
  }
  if (!response.ok) {
    const error = toApiError(response.status, body, `${response.status} ${response.statusText || "request failed"}`);
    if (response.status === 401 && typeof window !== "undefined" && !window.location.pathname.startsWith("/login")) {
      const back = window.location.pathname + window.location.search;
      window.location.assign(`/login?callbackUrl=${encodeURIComponent(back)}`);
    }
    throw error;
  }
  return body as T;
}

/** Builds a query string, leaving out empty values. */
export function qs(params: Record<string, string | number | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status >= 500 && error.requestId) return `${error.message} (request id ${error.requestId})`;
    if (error.issues.length) return `${error.message}: ${error.issues.map((i) => `${i.path || "body"} ${i.message}`).join("; ")}`;
    return error.message;
  }
  return error instanceof Error ? error.message : String(error);
}

/** A fresh key per user action, so a double click or a retried request triggers one run, not two. */
export function newIdempotencyKey(): string {
  return crypto.randomUUID();
}
