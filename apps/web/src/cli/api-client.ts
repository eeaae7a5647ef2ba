// A small REST client for the CLI: one place that adds the token, decodes the error body and picks the exit code.

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

/** Exit codes: 1 the operation failed (run failed, request refused), 2 usage or input error, 3 unreachable/auth. */
export const EXIT = { failed: 1, usage: 2, auth: 3 } as const;

export type TApi = <T>(method: string, path: string, body?: unknown, headers?: Record<string, string>) => Promise<T>;

export function apiClient(baseUrl: string, token: string | undefined): TApi {
  return async (method, path, body, headers = {}) => {
    if (!token) throw new CliError("no API token: set LORAPLANE_TOKEN or pass --token (create one with `loraplane token create`)", EXIT.auth);
    let res: Response;
    try {
      res = await fetch(new URL(path, baseUrl), {
        method,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      throw new CliError(`cannot reach ${baseUrl}: ${(error as Error).message}`, EXIT.auth);
    }
    return decode(res, method, path);
  };
}

async function decode<T>(res: Response, method: string, path: string): Promise<T> {
  const text = await res.text();
  let json: unknown = null;
  try {
    json = text ? (JSON.parse(text) as unknown) : null;
  } catch {
    if (res.ok) throw new CliError(`${method} ${path} → ${res.status}: the answer is not JSON`, EXIT.failed);
  }
  if (!res.ok) {
    const err = (json as { error?: { code: string; message: string; issues?: { path: string; message: string }[] }; requestId?: string } | null)?.error;
    const issues = err?.issues?.map((i) => `\n  - ${i.path || "(body)"}: ${i.message}`).join("") ?? "";
    const code = res.status === 401 ? EXIT.auth : res.status === 400 || res.status === 413 ? EXIT.usage : EXIT.failed;
    throw new CliError(`${method} ${path} → ${res.status} ${err?.code ?? ""}: ${err?.message ?? text}${issues}`, code);
  }
  return json as T;
}

/** POSTs a multipart form (file uploads); the files stream from disk (openAsBlob), they are not read into memory. */
export async function apiUpload<T>(baseUrl: string, token: string | undefined, path: string, form: FormData): Promise<T> {
  if (!token) throw new CliError("no API token: set LORAPLANE_TOKEN or pass --token (create one with `loraplane token create`)", EXIT.auth);
  let res: Response;
  try {
    res = await fetch(new URL(path, baseUrl), { method: "POST", headers: { authorization: `Bearer ${token}` }, body: form });
  } catch (error) {
    throw new CliError(`cannot reach ${baseUrl}: ${(error as Error).message}`, EXIT.auth);
  }
  return decode<T>(res, "POST", path);
}

/** GETs a download: the 2xx response is returned unread (its body streams to disk); an error answer throws as above. */
export async function apiDownload(baseUrl: string, token: string | undefined, path: string): Promise<Response> {
  if (!token) throw new CliError("no API token: set LORAPLANE_TOKEN or pass --token (create one with `loraplane token create`)", EXIT.auth);
  let res: Response;
  try {
    res = await fetch(new URL(path, baseUrl), { headers: { authorization: `Bearer ${token}` } });
  } catch (error) {
    throw new CliError(`cannot reach ${baseUrl}: ${(error as Error).message}`, EXIT.auth);
  }
  if (!res.ok) await decode(res, "GET", path);
  return res;
}
