// A small in-memory Kubernetes API server for tests: enough of the REST surface that the real
// @kubernetes/client-node talks to it over HTTP exactly as it would to a cluster. Generic over resources: any
// `/api/v1/...` or `/apis/<group>/<version>/...` path works (create, get, list, replace, merge/JSON patch, delete,
// watch), with one resourceVersion counter, label selectors, an event history that can be compacted (so a watch from
// an old resourceVersion gets 410 Gone, like etcd compaction), owner-reference garbage collection, API discovery and
// pod logs. Tests drive "the cluster side" (a Job controller, kubelet) through the `cluster` hooks.
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export type TKubeObject = {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name?: string;
    generateName?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    creationTimestamp?: string;
    deletionTimestamp?: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }[];
  };
  [key: string]: unknown;
};

export interface TResourceType {
  group: string; // "" for the core group
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
}

interface TRef {
  group: string;
  version: string;
  plural: string;
  namespace: string | null;
  name: string | null;
  subresource: string | null;
}

interface TEvent {
  rv: number;
  type: "ADDED" | "MODIFIED" | "DELETED";
  key: string; // group/plural
  object: TKubeObject;
}

interface TWatcher {
  key: string;
  namespace: string | null;
  selector: TSelector;
  fieldName: string | null;
  res: ServerResponse;
}

export interface TRecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
  contentType: string | undefined;
}

type TSelector = ((labels: Record<string, string>) => boolean) & { source: string };

const DEFAULT_TYPES: TResourceType[] = [
  { group: "", version: "v1", plural: "pods", kind: "Pod", namespaced: true },
  { group: "", version: "v1", plural: "services", kind: "Service", namespaced: true },
  { group: "", version: "v1", plural: "secrets", kind: "Secret", namespaced: true },
  { group: "", version: "v1", plural: "configmaps", kind: "ConfigMap", namespaced: true },
  { group: "", version: "v1", plural: "namespaces", kind: "Namespace", namespaced: false },
  { group: "batch", version: "v1", plural: "jobs", kind: "Job", namespaced: true },
  { group: "apps", version: "v1", plural: "deployments", kind: "Deployment", namespaced: true },
  { group: "apps", version: "v1", plural: "replicasets", kind: "ReplicaSet", namespaced: true },
];

/** Parses the label selector grammar: `a=b`, `a==b`, `a!=b`, `a`, `!a`, `a in (x,y)`, `a notin (x,y)`, comma-joined. */
export function parseLabelSelector(source: string | undefined): TSelector {
  const requirements: ((l: Record<string, string>) => boolean)[] = [];
  const text = (source ?? "").trim();
  // Split on commas that are not inside parentheses.
  const parts: string[] = [];
  let depth = 0;
  let current = "";
  for (const ch of text) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      parts.push(current);
      current = "";
    } else current += ch;
  }
  if (current.trim()) parts.push(current);
  for (const raw of parts.map((p) => p.trim()).filter(Boolean)) {
    let m: RegExpMatchArray | null;
    if ((m = raw.match(/^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/))) {
      const [, key, op, list] = m as unknown as [string, string, string, string];
      const values = new Set(list.split(",").map((v) => v.trim()));
      requirements.push(op === "in" ? (l) => key in l && values.has(l[key]!) : (l) => !(key in l) || !values.has(l[key]!));
    } else if ((m = raw.match(/^([\w./-]+)\s*(==|=|!=)\s*([\w./-]*)$/))) {
      const [, key, op, value] = m as unknown as [string, string, string, string];
      requirements.push(op === "!=" ? (l) => l[key] !== value : (l) => l[key] === value);
    } else if ((m = raw.match(/^!([\w./-]+)$/))) {
      const key = m[1]!;
      requirements.push((l) => !(key in l));
    } else if ((m = raw.match(/^([\w./-]+)$/))) {
      const key = m[1]!;
      requirements.push((l) => key in l);
    } else {
      throw new Error(`unable to parse requirement: ${raw}`);
    }
  }
  return Object.assign((labels: Record<string, string>) => requirements.every((r) => r(labels)), { source: text });
}

function status(code: number, reason: string, message: string, details?: Record<string, unknown>) {
  return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, code, ...(details ? { details } : {}) };
}

class HttpError extends Error {
  constructor(readonly body: ReturnType<typeof status>) {
    super(body.message);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** RFC 7386 JSON merge patch. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** RFC 6902 JSON patch (add, replace, remove, test). */
function jsonPatch(target: unknown, ops: { op: string; path: string; value?: unknown }[]): unknown {
  const doc = structuredClone(target) as Record<string, unknown>;
  for (const op of ops) {
    const segments = op.path.split("/").slice(1).map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
    const last = segments.pop()!;
    let parent: Record<string, unknown> | unknown[] = doc;
    for (const s of segments) {
      const next: unknown = Array.isArray(parent) ? parent[Number(s)] : parent[s];
      if (!isObject(next) && !Array.isArray(next)) {
        if (op.op !== "add") throw new HttpError(status(422, "Invalid", `path ${op.path} does not exist`));
        (parent as Record<string, unknown>)[s] = {};
      }
      parent = (Array.isArray(parent) ? parent[Number(s)] : parent[s]) as Record<string, unknown>;
    }
    const container = parent as Record<string, unknown>;
    if (op.op === "add" || op.op === "replace") {
      if (op.op === "replace" && !(last in container)) throw new HttpError(status(422, "Invalid", `path ${op.path} does not exist`));
      if (Array.isArray(parent) && last === "-") parent.push(op.value);
      else container[last] = op.value;
    } else if (op.op === "remove") {
      if (!(last in container)) throw new HttpError(status(422, "Invalid", `path ${op.path} does not exist`));
      delete container[last];
    } else if (op.op === "test") {
      if (JSON.stringify(container[last]) !== JSON.stringify(op.value)) throw new HttpError(status(422, "Invalid", `test failed at ${op.path}`));
    } else {
      throw new HttpError(status(400, "BadRequest", `unsupported JSON patch op ${op.op}`));
    }
  }
  return doc;
}

export interface TFakeKubeApiOptions {
  /** Extra resource types (CRDs such as jobset.x-k8s.io/v1alpha2 jobsets); they also appear in discovery. */
  types?: TResourceType[];
  /** How many events the watch history keeps before the oldest are compacted away (410 Gone). */
  historyLimit?: number;
}

export class FakeKubeApi {
  private readonly types = new Map<string, TResourceType>(); // group/plural
  private readonly objects = new Map<string, Map<string, TKubeObject>>(); // group/plural → ns/name → object
  private history: TEvent[] = [];
  private compactedThrough = 0;
  private readonly watchers = new Set<TWatcher>();
  private readonly logs = new Map<string, string>(); // ns/pod/container → text
  private readonly faults: { method: string; path: RegExp; code: number; times: number }[] = [];
  private rv = 1000;
  private server: Server | null = null;
  readonly requests: TRecordedRequest[] = [];
  url = "";

  constructor(private readonly options: TFakeKubeApiOptions = {}) {
    for (const t of [...DEFAULT_TYPES, ...(options.types ?? [])]) this.types.set(`${t.group}/${t.plural}`, t);
  }

  async start(port: number): Promise<string> {
    this.server = createServer((req, res) => {
      void this.handle(req, res).catch((error: unknown) => {
        const body = error instanceof HttpError ? error.body : status(500, "InternalError", (error as Error).message);
        if (!res.headersSent) {
          res.writeHead(body.code, { "content-type": "application/json" });
          res.end(JSON.stringify(body));
        } else res.end();
      });
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once("error", reject);
      this.server!.listen(port, "127.0.0.1", () => resolve());
    });
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    this.closeWatches();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server?.closeAllConnections();
  }

  /** A kubeconfig (for `KubeConfig.loadFromOptions`) that points the real client at this server. */
  kubeconfig(namespace = "default") {
    return {
      clusters: [{ name: "fake", server: this.url, skipTLSVerify: true }],
      users: [{ name: "tester", token: "fake-token" }],
      contexts: [{ name: "fake", cluster: "fake", user: "tester", namespace }],
      currentContext: "fake",
    };
  }

  // ---- hooks for tests: the "cluster side" -------------------------------------------------------------------

  /** Makes the next `times` requests matching method and path fail with `code`. */
  failNext(method: string, path: RegExp, code: number, times = 1): void {
    this.faults.push({ method, path, code, times });
  }

  /** Drops the watch history up to now: a watch resuming from an older resourceVersion gets 410 Gone. */
  compactHistory(): void {
    this.compactedThrough = this.rv;
    this.history = [];
  }

  /** Ends every open watch stream (like an apiserver restart or a watch timeout). */
  closeWatches(): void {
    for (const w of this.watchers) w.res.end();
    this.watchers.clear();
  }

  get openWatches(): number {
    return this.watchers.size;
  }

  get(group: string, plural: string, namespace: string | null, name: string): TKubeObject | undefined {
    const obj = this.bucket(group, plural).get(`${namespace ?? ""}/${name}`);
    return obj ? structuredClone(obj) : undefined;
  }

  list(group: string, plural: string, namespace: string | null = null, labelSelector?: string): TKubeObject[] {
    const match = parseLabelSelector(labelSelector);
    return [...this.bucket(group, plural).values()]
      .filter((o) => (namespace === null || o.metadata.namespace === namespace) && match(o.metadata.labels ?? {}))
      .map((o) => structuredClone(o));
  }

  /** Creates an object as a controller would (no 409 check bypass: throws when it exists). */
  create(group: string, plural: string, obj: TKubeObject): TKubeObject {
    const type = this.typeOf(group, plural);
    return this.insert(type, obj.metadata.namespace ?? null, structuredClone(obj));
  }

  /** Changes an object in place as a controller would (bumps resourceVersion, emits MODIFIED). */
  update(group: string, plural: string, namespace: string | null, name: string, mutate: (obj: TKubeObject) => void): TKubeObject {
    const bucket = this.bucket(group, plural);
    const key = `${namespace ?? ""}/${name}`;
    const existing = bucket.get(key);
    if (!existing) throw new Error(`${group}/${plural} ${key} does not exist`);
    const next = structuredClone(existing);
    mutate(next);
    return this.store(this.typeOf(group, plural), key, next, "MODIFIED");
  }

  remove(group: string, plural: string, namespace: string | null, name: string): boolean {
    return this.deleteObject(this.typeOf(group, plural), namespace, name);
  }

  setPodLog(namespace: string, pod: string, text: string, container?: string): void {
    this.logs.set(`${namespace}/${pod}/${container ?? ""}`, text);
  }

  // ---- HTTP -------------------------------------------------------------------------------------------------

  private typeOf(group: string, plural: string): TResourceType {
    const t = this.types.get(`${group}/${plural}`);
    if (!t) throw new HttpError(status(404, "NotFound", `the server could not find the requested resource (${group}/${plural})`));
    return t;
  }

  private bucket(group: string, plural: string): Map<string, TKubeObject> {
    const key = `${group}/${plural}`;
    let b = this.objects.get(key);
    if (!b) this.objects.set(key, (b = new Map()));
    return b;
  }

  private parsePath(pathname: string): TRef | null {
    const p = pathname.split("/").filter(Boolean);
    let group: string;
    let version: string;
    let rest: string[];
    if (p[0] === "api" && p.length >= 2) {
      group = "";
      version = p[1]!;
      rest = p.slice(2);
    } else if (p[0] === "apis" && p.length >= 3) {
      group = p[1]!;
      version = p[2]!;
      rest = p.slice(3);
    } else return null;
    if (rest.length === 0) return null;
    let namespace: string | null = null;
    if (rest[0] === "namespaces" && rest.length >= 3) {
      namespace = rest[1]!;
      rest = rest.slice(2);
    }
    return { group, version, plural: rest[0]!, namespace, name: rest[1] ?? null, subresource: rest[2] ?? null };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://fake");
    const query = Object.fromEntries(url.searchParams.entries());
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    let body: unknown = undefined;
    if (raw) {
      try {
        body = JSON.parse(raw);
      } catch {
        throw new HttpError(status(400, "BadRequest", "request body is not JSON"));
      }
    }
    const method = req.method ?? "GET";
    this.requests.push({ method, path: url.pathname, query, body, contentType: req.headers["content-type"] });

    const fault = this.faults.find((f) => f.method === method && f.path.test(url.pathname) && f.times > 0);
    if (fault) {
      fault.times--;
      throw new HttpError(status(fault.code, fault.code === 409 ? "Conflict" : fault.code >= 500 ? "InternalError" : "BadRequest", `injected fault ${fault.code}`));
    }

    if (method === "GET" && this.discovery(url.pathname, res)) return;
    const ref = this.parsePath(url.pathname);
    if (!ref) throw new HttpError(status(404, "NotFound", `no route for ${url.pathname}`));
    const type = this.typeOf(ref.group, ref.plural);
    if (type.version !== ref.version) throw new HttpError(status(404, "NotFound", `${ref.group}/${ref.version} does not serve ${ref.plural}`));

    if (ref.subresource === "log") return this.podLog(ref, query, res);
    if (ref.subresource && ref.subresource !== "status") throw new HttpError(status(404, "NotFound", `subresource ${ref.subresource} is not served`));

    if (ref.name === null) {
      if (method === "GET" && (query.watch === "true" || query.watch === "1")) return this.watch(type, ref, query, res);
      if (method === "GET") return this.send(res, 200, this.listResponse(type, ref.namespace, query));
      if (method === "POST") {
        if (!isObject(body) || !isObject(body.metadata)) throw new HttpError(status(400, "BadRequest", "body must be an object with metadata"));
        const obj = body as TKubeObject;
        if (obj.metadata.namespace && ref.namespace && obj.metadata.namespace !== ref.namespace) {
          throw new HttpError(status(400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request"));
        }
        if (query.dryRun === "All") return this.send(res, 201, obj);
        return this.send(res, 201, this.insert(type, ref.namespace, obj));
      }
      throw new HttpError(status(405, "MethodNotAllowed", `${method} is not allowed on a collection`));
    }

    const key = `${ref.namespace ?? ""}/${ref.name}`;
    const bucket = this.bucket(type.group, type.plural);
    const existing = bucket.get(key);
    const notFound = () => new HttpError(status(404, "NotFound", `${type.plural}${type.group ? `.${type.group}` : ""} "${ref.name}" not found`, { name: ref.name, group: type.group, kind: type.plural }));
    if (method === "GET") {
      if (!existing) throw notFound();
      return this.send(res, 200, existing);
    }
    if (method === "DELETE") {
      if (!existing) throw notFound();
      const propagation = (isObject(body) && typeof body.propagationPolicy === "string" ? body.propagationPolicy : query.propagationPolicy) ?? "Background";
      this.deleteObject(type, ref.namespace, ref.name, propagation === "Orphan");
      return this.send(res, 200, { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", details: { name: ref.name, group: type.group, kind: type.plural, uid: existing.metadata.uid } });
    }
    if (!existing) throw notFound();
    let next: TKubeObject;
    if (method === "PUT") {
      if (!isObject(body) || !isObject(body.metadata)) throw new HttpError(status(400, "BadRequest", "body must be an object with metadata"));
      const sent = body as TKubeObject;
      if (sent.metadata.resourceVersion && sent.metadata.resourceVersion !== existing.metadata.resourceVersion) {
        throw new HttpError(status(409, "Conflict", `Operation cannot be fulfilled on ${type.plural} "${ref.name}": the object has been modified; please apply your changes to the latest version and try again`));
      }
      next = ref.subresource === "status" ? { ...existing, status: sent.status } : { ...sent, status: existing.status };
    } else if (method === "PATCH") {
      const ct = req.headers["content-type"] ?? "";
      if (ct.includes("json-patch")) next = jsonPatch(existing, body as { op: string; path: string; value?: unknown }[]) as TKubeObject;
      else next = mergePatch(existing, body) as TKubeObject;
    } else throw new HttpError(status(405, "MethodNotAllowed", `${method} is not allowed`));
    next.metadata = { ...next.metadata, name: existing.metadata.name, namespace: existing.metadata.namespace, uid: existing.metadata.uid, creationTimestamp: existing.metadata.creationTimestamp };
    return this.send(res, 200, this.store(type, key, next, "MODIFIED"));
  }

  private discovery(pathname: string, res: ServerResponse): boolean {
    const p = pathname.replace(/\/$/, "");
    const all = [...this.types.values()];
    if (p === "/api") {
      this.send(res, 200, { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: "127.0.0.1" }] });
      return true;
    }
    if (p === "/apis") {
      const groups = new Map<string, Set<string>>();
      for (const t of all.filter((t) => t.group)) (groups.get(t.group) ?? groups.set(t.group, new Set()).get(t.group)!).add(t.version);
      this.send(res, 200, {
        kind: "APIGroupList",
        apiVersion: "v1",
        groups: [...groups].map(([name, versions]) => ({
          name,
          versions: [...versions].map((v) => ({ groupVersion: `${name}/${v}`, version: v })),
          preferredVersion: { groupVersion: `${name}/${[...versions][0]}`, version: [...versions][0] },
        })),
      });
      return true;
    }
    const m = p.match(/^\/api\/(v1)$/) ?? p.match(/^\/apis\/([^/]+\/[^/]+)$/);
    if (m) {
      const gv = m[1]!;
      const resources = all.filter((t) => (t.group ? `${t.group}/${t.version}` : t.version) === gv);
      if (resources.length === 0) return false;
      this.send(res, 200, {
        kind: "APIResourceList",
        apiVersion: "v1",
        groupVersion: gv,
        resources: resources.map((t) => ({ name: t.plural, singularName: t.kind.toLowerCase(), namespaced: t.namespaced, kind: t.kind, verbs: ["create", "delete", "get", "list", "patch", "update", "watch"] })),
      });
      return true;
    }
    return false;
  }

  private send(res: ServerResponse, code: number, body: unknown): void {
    res.writeHead(code, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  }

  private nextRv(): number {
    return ++this.rv;
  }

  private insert(type: TResourceType, namespace: string | null, obj: TKubeObject): TKubeObject {
    const ns = type.namespaced ? (namespace ?? obj.metadata.namespace ?? "default") : null;
    let name = obj.metadata.name;
    if (!name && obj.metadata.generateName) name = `${obj.metadata.generateName}${randomUUID().slice(0, 5)}`;
    if (!name) throw new HttpError(status(422, "Invalid", `${type.kind} is invalid: metadata.name: Required value: name or generateName is required`));
    if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name) || name.length > 253) {
      throw new HttpError(status(422, "Invalid", `${type.kind} "${name}" is invalid: metadata.name: Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'`));
    }
    const key = `${ns ?? ""}/${name}`;
    const bucket = this.bucket(type.group, type.plural);
    if (bucket.has(key)) {
      throw new HttpError(status(409, "AlreadyExists", `${type.plural}${type.group ? `.${type.group}` : ""} "${name}" already exists`, { name, group: type.group, kind: type.plural }));
    }
    const stored: TKubeObject = {
      ...obj,
      apiVersion: type.group ? `${type.group}/${type.version}` : type.version,
      kind: type.kind,
      metadata: {
        ...obj.metadata,
        name,
        ...(ns ? { namespace: ns } : {}),
        uid: randomUUID(),
        creationTimestamp: new Date().toISOString(),
        generation: 1,
      },
    };
    return this.store(type, key, stored, "ADDED");
  }

  private store(type: TResourceType, key: string, obj: TKubeObject, eventType: TEvent["type"]): TKubeObject {
    const rv = this.nextRv();
    obj.metadata.resourceVersion = String(rv);
    this.bucket(type.group, type.plural).set(key, obj);
    this.emit({ rv, type: eventType, key: `${type.group}/${type.plural}`, object: structuredClone(obj) });
    return structuredClone(obj);
  }

  private deleteObject(type: TResourceType, namespace: string | null, name: string, orphan = false): boolean {
    const bucket = this.bucket(type.group, type.plural);
    const key = `${namespace ?? ""}/${name}`;
    const existing = bucket.get(key);
    if (!existing) return false;
    bucket.delete(key);
    const rv = this.nextRv();
    this.emit({ rv, type: "DELETED", key: `${type.group}/${type.plural}`, object: { ...structuredClone(existing), metadata: { ...existing.metadata, resourceVersion: String(rv) } } });
    if (!orphan) this.collectDependents(existing.metadata.uid!);
    return true;
  }

  /** The garbage collector: dependents whose owner is gone are deleted too (background propagation). */
  private collectDependents(ownerUid: string): void {
    for (const [bucketKey, bucket] of this.objects) {
      const type = this.types.get(bucketKey)!;
      for (const obj of [...bucket.values()]) {
        if (obj.metadata.ownerReferences?.some((o) => o.uid === ownerUid)) this.deleteObject(type, obj.metadata.namespace ?? null, obj.metadata.name!);
      }
    }
  }

  private emit(event: TEvent): void {
    this.history.push(event);
    const limit = this.options.historyLimit ?? 10_000;
    if (this.history.length > limit) {
      const dropped = this.history.splice(0, this.history.length - limit);
      this.compactedThrough = dropped.at(-1)!.rv;
    }
    for (const w of this.watchers) if (this.matches(w, event)) this.writeEvent(w.res, event.type, event.object);
  }

  private matches(w: TWatcher, e: TEvent): boolean {
    return (
      w.key === e.key &&
      (w.namespace === null || e.object.metadata.namespace === w.namespace) &&
      (w.fieldName === null || e.object.metadata.name === w.fieldName) &&
      w.selector(e.object.metadata.labels ?? {})
    );
  }

  private writeEvent(res: ServerResponse, type: string, object: unknown): void {
    res.write(`${JSON.stringify({ type, object })}\n`);
  }

  private fieldName(query: Record<string, string>): string | null {
    if (!query.fieldSelector) return null;
    const m = query.fieldSelector.match(/^metadata\.name=(.+)$/);
    if (!m) throw new HttpError(status(400, "BadRequest", `field selector ${query.fieldSelector} is not supported`));
    return m[1]!;
  }

  private listResponse(type: TResourceType, namespace: string | null, query: Record<string, string>) {
    let match: TSelector;
    try {
      match = parseLabelSelector(query.labelSelector);
    } catch (error) {
      throw new HttpError(status(400, "BadRequest", (error as Error).message));
    }
    const name = this.fieldName(query);
    const items = [...this.bucket(type.group, type.plural).values()].filter(
      (o) => (namespace === null || o.metadata.namespace === namespace) && (name === null || o.metadata.name === name) && match(o.metadata.labels ?? {}),
    );
    return { kind: `${type.kind}List`, apiVersion: type.group ? `${type.group}/${type.version}` : type.version, metadata: { resourceVersion: String(this.rv) }, items };
  }

  private watch(type: TResourceType, ref: TRef, query: Record<string, string>, res: ServerResponse): void {
    let selector: TSelector;
    try {
      selector = parseLabelSelector(query.labelSelector);
    } catch (error) {
      throw new HttpError(status(400, "BadRequest", (error as Error).message));
    }
    const w: TWatcher = { key: `${type.group}/${type.plural}`, namespace: ref.namespace, selector, fieldName: this.fieldName(query), res };
    res.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" });
    res.flushHeaders(); // like the apiserver: the client sees the stream open before the first event
    const from = query.resourceVersion ? Number(query.resourceVersion) : null;
    if (from !== null && from !== 0 && from < this.compactedThrough) {
      // What the apiserver does when etcd has compacted the requested revision: an ERROR event, then the stream ends.
      this.writeEvent(res, "ERROR", status(410, "Expired", `too old resource version: ${from} (${this.compactedThrough})`));
      res.end();
      return;
    }
    if (from === null || from === 0) {
      // No resourceVersion: synthetic ADDED events for the current state first.
      for (const o of this.listResponse(type, ref.namespace, query).items) this.writeEvent(res, "ADDED", o);
    } else {
      for (const e of this.history) if (e.rv > from && this.matches(w, e)) this.writeEvent(res, e.type, e.object);
    }
    this.watchers.add(w);
    const timeout = query.timeoutSeconds ? setTimeout(() => res.end(), Number(query.timeoutSeconds) * 1000) : null;
    res.on("close", () => {
      if (timeout) clearTimeout(timeout);
      this.watchers.delete(w);
    });
  }

  private podLog(ref: TRef, query: Record<string, string>, res: ServerResponse): void {
    if (ref.plural !== "pods" || !ref.name) throw new HttpError(status(404, "NotFound", "logs are served for pods only"));
    if (!this.bucket("", "pods").has(`${ref.namespace ?? ""}/${ref.name}`)) throw new HttpError(status(404, "NotFound", `pods "${ref.name}" not found`));
    const text = this.logs.get(`${ref.namespace}/${ref.name}/${query.container ?? ""}`) ?? this.logs.get(`${ref.namespace}/${ref.name}/`);
    if (text === undefined) throw new HttpError(status(400, "BadRequest", `container in pod "${ref.name}" is waiting to start: ContainerCreating`));
    let lines = text.split("\n");
    if (lines.at(-1) === "") lines.pop();
    if (query.tailLines !== undefined) {
      const n = Math.max(0, Number(query.tailLines));
      lines = n === 0 ? [] : lines.slice(-n);
    }
    let out = lines.length ? `${lines.join("\n")}\n` : "";
    if (query.limitBytes !== undefined) out = out.slice(0, Number(query.limitBytes));
    res.writeHead(200, { "content-type": "text/plain" });
    res.end(out);
  }
}
