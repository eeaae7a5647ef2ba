// Request bodies are plain JSON data. A "__proto__" key has no meaning in any Loraplane document and is the usual
// vehicle of prototype pollution (JSON.parse keeps it as an own property; an `Object.assign`, spread-then-merge or
// dotted-path walk later turns it into a prototype write), and pathological nesting can exhaust the stack of
// recursive code downstream; text Postgres cannot store (NUL) or that is not Unicode (lone surrogates) would fail deep
// in a query. All are refused, naming the field, before the body reaches a schema or a service.

/** Deeper than any document the API accepts (a pipeline spec nests about 6 levels). */
export const MAX_JSON_DEPTH = 64;

const FORBIDDEN_KEYS = new Set(["__proto__"]);

function join(path: string, key: string | number): string {
  if (typeof key === "number") return `${path}[${key}]`;
  return path ? `${path}.${key}` : key;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Postgres text cannot hold NUL (the insert fails), and a lone surrogate is not Unicode text at all. */
function textProblem(text: string): string | null {
  if (text.includes("\u0000")) return "must not contain the NUL character (\\u0000)";
  if (LONE_SURROGATE.test(text)) return "must be valid Unicode (a lone surrogate was sent)";
  return null;
}

/** The first problem in a parsed JSON body (a "__proto__" key, bad text, nesting past MAX_JSON_DEPTH) with its path. */
export function hostileJsonProblem(value: unknown): { path: string; message: string } | null {
  // Iterative, so a hostile document cannot overflow the stack of the check itself.
  const stack: { value: unknown; path: string; depth: number }[] = [{ value, path: "", depth: 0 }];
  while (stack.length > 0) {
    const { value: node, path, depth } = stack.pop()!;
    if (typeof node === "string") {
      const problem = textProblem(node);
      if (problem) return { path: path || "(body)", message: problem };
      continue;
    }
    if (typeof node !== "object" || node === null) continue;
    if (depth >= MAX_JSON_DEPTH) return { path: path || "(body)", message: `nested more than ${MAX_JSON_DEPTH} levels deep` };
    if (Array.isArray(node)) {
      node.forEach((item, i) => stack.push({ value: item, path: join(path, i), depth: depth + 1 }));
      continue;
    }
    for (const key of Object.keys(node)) {
      if (FORBIDDEN_KEYS.has(key)) return { path: join(path, key), message: `the key "${key}" is not allowed` };
      const keyProblem = textProblem(key);
      if (keyProblem) return { path: path || "(body)", message: `a key ${keyProblem}` };
      stack.push({ value: (node as Record<string, unknown>)[key], path: join(path, key), depth: depth + 1 });
    }
  }
  return null;
}
