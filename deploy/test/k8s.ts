// Validation of rendered manifests against the Kubernetes OpenAPI schemas (kubernetes-models), and the env check
// shared by the Helm and compose tests: every variable a Loraplane container gets must be one its process reads.
import * as models from "kubernetes-models";
import { parseAllDocuments } from "yaml";
import { ZGatewayEnv, ZMigrateEnv, ZWebEnv, ZWorkerEnv } from "@loraplane/config";

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

export function parseManifests(stream: string): K8sObject[] {
  return parseAllDocuments(stream)
    .map((doc) => {
      if (doc.errors.length) throw new Error(`invalid YAML in rendered output: ${doc.errors[0]!.message}`);
      return doc.toJS() as K8sObject | null;
    })
    .filter((obj): obj is K8sObject => obj !== null);
}

type ModelClass = new (data: unknown) => { validate(): void };

const groupKey = (group: string) => group.replace(/\.(\w)/g, (_, c: string) => c.toUpperCase());

/** The kubernetes-models class for apiVersion/kind, or undefined for kinds outside the core API (CRDs). */
export function modelFor(apiVersion: string, kind: string): ModelClass | undefined {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  const registry = models as unknown as Record<string, Record<string, Record<string, ModelClass>>>;
  const versions = group ? registry[groupKey(group!)] : (registry as unknown as Record<string, Record<string, ModelClass>>);
  return (versions?.[version!] as Record<string, ModelClass> | undefined)?.[kind];
}

/** Throws with every schema violation of `obj`; returns false when no schema exists for its kind. */
export function validateObject(obj: K8sObject): boolean {
  const Model = modelFor(obj.apiVersion, obj.kind);
  if (!Model) return false;
  try {
    new Model(obj).validate();
  } catch (error) {
    throw new Error(`${obj.kind}/${obj.metadata.name}: ${(error as Error).message}`);
  }
  return true;
}

// zod 4 object schemas expose their keys on .shape.
const keysOf = (schema: { shape: Record<string, unknown> }) => new Set(Object.keys(schema.shape));
export const PROCESS_ENV_KEYS: Record<string, Set<string>> = {
  web: keysOf(ZWebEnv),
  workers: keysOf(ZWorkerEnv),
  gateway: keysOf(ZGatewayEnv),
  migrate: keysOf(ZMigrateEnv),
};

/**
 * Names in `env` that the process does not read. A variable only used inside another's value as $(NAME) (Kubernetes
 * dependent-variable expansion, e.g. a password composed into DATABASE_URL) is allowed.
 */
export function unknownEnv(process: string, env: { name: string; value?: string }[]): string[] {
  const known = PROCESS_ENV_KEYS[process];
  if (!known) throw new Error(`no env schema for process ${process}`);
  const referenced = new Set(env.flatMap((e) => [...(e.value ?? "").matchAll(/\$\((\w+)\)/g)].map((m) => m[1]!)));
  return env.map((e) => e.name).filter((name) => !known.has(name) && !referenced.has(name));
}
