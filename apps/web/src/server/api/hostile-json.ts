// Request bodies are plain JSON data. A "__proto__" key has no meaning in any Loraplane document and is the usual
// vehicle of prototype pollution (JSON.parse keeps it as an own property; an `Object.assign`, spread-then-merge or
// dotted-path walk later turns it into a prototype write), and pathological nesting can exhaust the stack of
// recursive code downstream. Both are refused before the body reaches a schema or a service.

/** Deeper than any document the API accepts (a pipeline spec nests about 6 levels). */
export const MAX_JSON_DEPTH = 64;

const FORBIDDEN_KEYS = new Set(["__proto__"]);

function join(path: string, key: string | number): string {
  if (typeof key === "number") return `${path}[${key}]`;
  return path ? `${path}.${key}` : key;
}

/** The first problem in a parsed JSON body (a "__proto__" key, or nesting past MAX_JSON_DEPTH) with its path. */
export function hostileJsonProblem(value: unknown): { path: string; message: string } | null {
  // Iterative, so a hostile document cannot overflow the stack of the check itself.
  const stack: { value: unknown; path: string; depth: number }[] = [{ value, path: "", depth: 0 }];
  while (stack.length > 0) {
    const { value: node, path, depth } = stack.pop()!;
    if (typeof node !== "object" || node === null) continue;
    if (depth >= MAX_JSON_DEPTH) return { path: path || "(body)", message: `nested more than ${MAX_JSON_DEPTH} levels deep` };
    if (Array.isArray(node)) {
      node.forEach((item, i) => stack.push({ value: item, path: join(path, i), depth: depth + 1 }));
      continue;
    }
    for (const key of Object.keys(node)) {
      if (FORBIDDEN_KEYS.has(key)) return { path: join(path, key), message: `the key "${key}" is not allowed` };
      stack.push({ value: (node as Record<string, unknown>)[key], path: join(path, key), depth: depth + 1 });
    }
  }
  return null;
}
