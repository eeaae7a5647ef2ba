// Deterministic Kubernetes names and labels for one attempt of a stage: the same (run, stage, attempt) always maps to
// the same Job, so a restarted worker finds the Job it (or another worker) created instead of creating a second one.
import { createHash } from "node:crypto";

export const MANAGED_BY = "loraplane";
export const LABELS = {
  managedBy: "app.kubernetes.io/managed-by",
  runId: "loraplane.dev/run-id",
  stage: "loraplane.dev/stage",
  attempt: "loraplane.dev/attempt",
  job: "loraplane.dev/job",
} as const;
export const COMPLETION_INDEX_ANNOTATION = "batch.kubernetes.io/job-completion-index";

// An Indexed Job's pods are named and hostnamed `<job>-<index>`, which must stay a 63-character DNS label; 52 leaves
// room for the index of up to 256 nodes plus the pod-name suffix the Job controller appends.
const MAX_JOB_NAME = 52;

function dnsLabel(value: string): string {
  return value
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/-+/g, "-")
    .replace(/^-|-$/g, "");
}

/** `lp-<runId>-<stage>-<attempt>`; a run id too long (or changed by sanitising) gets a hash suffix to stay unique. */
export function jobNameFor(runId: string, stage: string, attempt: number): string {
  const id = dnsLabel(runId);
  const plain = `lp-${id}-${stage}-${attempt}`;
  if (id === runId && plain.length <= MAX_JOB_NAME) return plain;
  const hash = createHash("sha256").update(runId).digest("hex").slice(0, 10);
  const room = MAX_JOB_NAME - `lp---${stage}-${attempt}`.length - hash.length;
  return `lp-${id.slice(0, Math.max(0, room)).replace(/-$/, "")}-${hash}-${stage}-${attempt}`.replace(/--+/g, "-");
}

/** A label value: ≤ 63 characters, alphanumeric at both ends. */
export function labelValue(value: string): string {
  const v = value.replace(/[^A-Za-z0-9_.-]+/g, "-").slice(0, 63);
  return v.replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, "");
}

export function labelsFor(runId: string, stage: string, attempt: number, jobName: string): Record<string, string> {
  return {
    [LABELS.managedBy]: MANAGED_BY,
    [LABELS.runId]: labelValue(runId),
    [LABELS.stage]: stage,
    [LABELS.attempt]: String(attempt),
    [LABELS.job]: jobName,
  };
}

export const secretNameFor = (jobName: string) => `${jobName}-env`;
/** The headless Service of a multi-node Job; pods resolve each other as `<job>-<index>.<service>`. */
export const serviceNameFor = (jobName: string) => jobName;
