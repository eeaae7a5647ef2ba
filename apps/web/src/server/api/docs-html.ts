// A self-contained API reference page (no CDN, no script): air-gapped installs must be able to read it.
type TOperation = { operationId?: string; summary?: string; tags?: string[]; parameters?: { name: string; in: string; required?: boolean; schema?: unknown }[]; requestBody?: { content?: Record<string, { schema?: unknown }> }; responses?: Record<string, { description?: string; content?: Record<string, { schema?: unknown }> }>; "x-loraplane-auth"?: Record<string, unknown> };

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const json = (v: unknown) => esc(JSON.stringify(v, null, 2));

export function renderDocsHtml(doc: { info: { title: string; description?: string }; paths?: Record<string, Record<string, TOperation>> }): string {
  const byTag = new Map<string, string[]>();
  for (const [path, methods] of Object.entries(doc.paths ?? {})) {
    for (const [method, op] of Object.entries(methods)) {
      const auth = op["x-loraplane-auth"] ?? {};
      const access = [auth.kind, auth.role && `role ≥ ${auth.role}`, auth.globalRole && `global role ≥ ${auth.globalRole}`, auth.scope && `scope ${auth.scope}`].filter(Boolean).join(" · ");
      const params = (op.parameters ?? []).map((p) => `<li><code>${esc(p.name)}</code> (${p.in}${p.required ? ", required" : ""}) <code>${json(p.schema ?? {})}</code></li>`).join("");
      const body = op.requestBody?.content?.["application/json"]?.schema;
      const success = Object.entries(op.responses ?? {}).find(([code]) => code.startsWith("2"));
      const html = `<section id="${esc(op.operationId ?? "")}"><h3><span class="m ${method}">${method.toUpperCase()}</span> <code>${esc(path)}</code></h3>
<p>${esc(op.summary ?? "")}</p><p class="auth">${esc(access)}</p>
${params ? `<h4>Parameters</h4><ul>${params}</ul>` : ""}
${body ? `<details><summary>Request body</summary><pre>${json(body)}</pre></details>` : ""}
${success ? `<details><summary>Response ${success[0]}</summary><pre>${json(success[1].content ?? {})}</pre></details>` : ""}</section>`;
      const tag = op.tags?.[0] ?? "other";
      byTag.set(tag, [...(byTag.get(tag) ?? []), html]);
    }
  }
  const nav = [...byTag.keys()].map((t) => `<a href="#tag-${esc(t)}">${esc(t)}</a>`).join(" ");
  const sections = [...byTag].map(([t, ops]) => `<h2 id="tag-${esc(t)}">${esc(t)}</h2>${ops.join("\n")}`).join("\n");
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(doc.info.title)}</title><style>
body{font:15px/1.5 system-ui,sans-serif;max-width:980px;margin:2rem auto;padding:0 1rem;color:#1b1f24}
code,pre{font-family:ui-monospace,monospace;font-size:13px}pre{background:#f5f6f8;padding:.75rem;overflow:auto;border-radius:6px}
section{border-top:1px solid #e3e5e8;padding:.5rem 0}.m{display:inline-block;min-width:4.5em;text-align:center;border-radius:4px;color:#fff;font-size:12px;padding:2px 6px}
.get{background:#2563eb}.post{background:#16a34a}.put{background:#ca8a04}.patch{background:#9333ea}.delete{background:#dc2626}.auth{color:#57606a;font-size:13px}nav a{margin-right:.75rem}
</style></head><body><h1>${esc(doc.info.title)}</h1><p>${esc(doc.info.description ?? "")}</p>
<p>Machine-readable: <a href="/api/v1/openapi.json">/api/v1/openapi.json</a> (OpenAPI 3.1). Errors: <code>{ "error": { "code", "message", "issues": [{ "path", "message" }] }, "requestId" }</code>.</p>
<nav>${nav}</nav>${sections}</body></html>`;
}
