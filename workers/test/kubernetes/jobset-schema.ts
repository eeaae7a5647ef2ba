// Validates objects against the JobSet CRD's own OpenAPI schema (jobset.x-k8s.io/v1alpha2, vendored from
// kubernetes-sigs/jobset at 08dfbdfd, config/components/crd/bases/jobset.x-k8s.io_jobsets.yaml, descriptions
// stripped). The API server prunes fields a structural schema does not declare — silently — so every declared object
// here is closed (additionalProperties: false) unless the CRD preserves unknown fields: a field we send that the CRD
// does not know fails the test instead of vanishing in a cluster.
import { readFileSync } from "node:fs";
import Ajv from "ajv";

type TSchema = { type?: string; properties?: Record<string, TSchema>; items?: TSchema; additionalProperties?: unknown; [k: string]: unknown };

function closed(schema: TSchema): TSchema {
  const out: TSchema = { ...schema };
  if (schema.properties) {
    out.properties = Object.fromEntries(Object.entries(schema.properties).map(([k, v]) => [k, closed(v)]));
    if (out.additionalProperties === undefined && !schema["x-kubernetes-preserve-unknown-fields"]) out.additionalProperties = false;
  }
  if (schema.items) out.items = closed(schema.items);
  if (schema.additionalProperties && typeof schema.additionalProperties === "object") out.additionalProperties = closed(schema.additionalProperties as TSchema);
  return out;
}

const raw = JSON.parse(readFileSync(new URL("./schemas/jobset.x-k8s.io_v1alpha2_jobset.schema.json", import.meta.url), "utf8")) as TSchema;
// Kubernetes vocabulary (x-kubernetes-*, int32/int64 formats) is not JSON Schema; the structure is what is checked.
const ajv = new Ajv({ strict: false, validateFormats: false, allErrors: true });
const check = ajv.compile(closed(raw));

/** Throws with every violation (path and message) when `obj` does not match the JobSet CRD. */
export function validateJobSet(obj: unknown): void {
  if (check(obj)) return;
  const errors = (check.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message}${e.params && "additionalProperty" in e.params ? ` (${String(e.params.additionalProperty)})` : ""}`);
  throw new Error(`JobSet does not match the CRD schema: ${errors.join("; ")}`);
}
