// An in-memory Kubernetes API server for the typed clients: namespaced GET/POST/PUT/DELETE on any resource path,
// resourceVersion bumps, 404/409 as the real server answers. Tests edit `objects` to play the cluster's part (ready
// replicas, endpoints).
import http from "node:http";

export interface TFakeKube {
  url: string;
  objects: Map<string, Record<string, unknown>>;
  requests: string[];
  close(): Promise<void>;
}

const status = (code: number, reason: string, message: string) => ({ kind: "Status", apiVersion: "v1", status: "Failure", code, reason, message });

export async function startFakeKube(): Promise<TFakeKube> {
  const objects = new Map<string, Record<string, unknown>>();
  const requests: string[] = [];
  let rv = 1;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const path = (req.url ?? "").split("?")[0]!;
      requests.push(`${req.method} ${path}`);
      const send = (code: number, body: unknown) => {
        res.writeHead(code, { "content-type": "application/json" });
        res.end(JSON.stringify(body));
      };
      const body = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>) : {};
      if (req.method === "POST") {
        const name = (body.metadata as { name: string }).name;
        const key = `${path}/${name}`;
        if (objects.has(key)) return send(409, status(409, "AlreadyExists", `${name} already exists`));
        const obj = { ...body, metadata: { ...(body.metadata as object), resourceVersion: String(rv++) } };
        objects.set(key, obj);
        return send(201, obj);
      }
      const existing = objects.get(path);
      if (!existing) return send(404, status(404, "NotFound", `${path} not found`));
      if (req.method === "GET") return send(200, existing);
      if (req.method === "DELETE") {
        objects.delete(path);
        return send(200, { kind: "Status", apiVersion: "v1", status: "Success" });
      }
      if (req.method === "PUT") {
        const given = (body.metadata as { resourceVersion?: string }).resourceVersion;
        if (given !== (existing.metadata as { resourceVersion: string }).resourceVersion) return send(409, status(409, "Conflict", "resourceVersion mismatch"));
        const obj = { ...body, status: existing.status, metadata: { ...(body.metadata as object), resourceVersion: String(rv++) } };
        objects.set(path, obj);
        return send(200, obj);
      }
      send(405, status(405, "MethodNotAllowed", req.method ?? ""));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    objects,
    requests,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
