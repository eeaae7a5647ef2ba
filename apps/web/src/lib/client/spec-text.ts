// The pipeline spec editor keeps text and an object in step: the text is what the user types (YAML or JSON), the
// object is what the form fields and the validate endpoint see.
import { isMap, isSeq, parseDocument, stringify } from "yaml";

export type TSpecFormat = "yaml" | "json";

export interface TParseResult {
  value: unknown;
  error: { message: string; line?: number } | null;
}

export function parseSpecText(text: string, format: TSpecFormat): TParseResult {
  if (!text.trim()) return { value: {}, error: null };
  if (format === "json") {
    try {
      return { value: JSON.parse(text), error: null };
    } catch (error) {
      const message = (error as Error).message;
      const position = /position (\d+)/.exec(message);
      const line = position ? text.slice(0, Number(position[1])).split("\n").length : undefined;
      return { value: undefined, error: { message, line } };
    }
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length) {
    const first = doc.errors[0]!;
    return { value: undefined, error: { message: first.message.split("\n")[0]!, line: first.linePos?.[0]?.line } };
  }
  return { value: doc.toJS(), error: null };
}

export function formatSpec(value: unknown, format: TSpecFormat): string {
  if (format === "json") return `${JSON.stringify(value ?? {}, null, 2)}\n`;
  return stringify(value ?? {}, { lineWidth: 0 });
}

function segments(path: string): string[] {
  return path.split(".").filter(Boolean);
}

export function getAtPath(value: unknown, path: string): unknown {
  let current: unknown = value;
  for (const key of segments(path)) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/** Returns a copy with `path` set; an `undefined` value removes the key, so a cleared field falls back to the default. */
export function setAtPath(value: unknown, path: string, next: unknown): Record<string, unknown> {
  const keys = segments(path);
  const root: Record<string, unknown> = value && typeof value === "object" && !Array.isArray(value) ? { ...(value as Record<string, unknown>) } : {};
  let cursor = root;
  keys.forEach((key, i) => {
    if (i === keys.length - 1) {
      if (next === undefined) delete cursor[key];
      else cursor[key] = next;
      return;
    }
    const child = cursor[key];
    const copy = child && typeof child === "object" && !Array.isArray(child) ? { ...(child as Record<string, unknown>) } : {};
    cursor[key] = copy;
    cursor = copy;
  });
  return root;
}

/** Issues whose path is the field's path or lies below it (`training.lora.r` belongs to the `training.lora` field). */
export function issuesFor<T extends { path: string }>(issues: T[], path: string): T[] {
  return issues.filter((issue) => issue.path === path || issue.path.startsWith(`${path}.`) || issue.path.startsWith(`${path}[`));
}

/**
 * Sets `path` in the text itself, so what the user wrote keeps its key order, comments and layout (YAML edits go
 * through the document model; JSON keeps the order JSON.parse read). `undefined` removes the key.
 */
export function setInText(text: string, format: TSpecFormat, path: string, next: unknown): string {
  const keys = segments(path).map((k) => (/^\d+$/.test(k) ? Number(k) : k));
  if (format === "json") {
    const root = parseSpecText(text, "json").value;
    const copy = (root && typeof root === "object" ? structuredClone(root) : {}) as Record<string | number, unknown>;
    let cursor: Record<string | number, unknown> = copy;
    keys.forEach((key, i) => {
      if (i === keys.length - 1) {
        if (next === undefined) {
          if (Array.isArray(cursor) && typeof key === "number") cursor.splice(key, 1);
          else delete cursor[key];
        } else cursor[key] = next;
        return;
      }
      if (!cursor[key] || typeof cursor[key] !== "object") cursor[key] = typeof keys[i + 1] === "number" ? [] : {};
      cursor = cursor[key] as Record<string | number, unknown>;
    });
    return formatSpec(copy, "json");
  }
  const doc = parseDocument(text.trim() ? text : "{}\n");
  if (next === undefined) {
    if (doc.hasIn(keys)) doc.deleteIn(keys);
  } else {
    // Create missing parents as block maps (or sequences for numeric keys), not flow `{}` left over from an empty doc.
    for (let i = 1; i < keys.length; i++) {
      const parent = keys.slice(0, i);
      const node = doc.getIn(parent, true);
      if (!isMap(node) && !isSeq(node)) doc.setIn(parent, doc.createNode(typeof keys[i] === "number" ? [] : {}));
    }
    doc.setIn(keys, doc.createNode(next));
  }
  if (isMap(doc.contents) && doc.contents.flow) doc.contents.flow = false;
  return doc.toString({ lineWidth: 0 });
}
