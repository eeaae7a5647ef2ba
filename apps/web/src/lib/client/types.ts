// Shapes the dashboard reads from /api/v1 (see /api/v1/openapi.json). Dates arrive as ISO strings.

export type TRole = "viewer" | "engineer" | "approver" | "admin";
export const ROLE_RANK: Record<TRole, number> = { viewer: 0, engineer: 1, approver: 2, admin: 3 };

export interface TProject {
  id: string;
  slug: string;
  name: string;
  description?: string | null;
}

export interface TMe {
  user: { id: string; email: string; role: TRole };
  via: "session" | "token";
  projects: { projectId: string; role: TRole }[];
}

export interface TPage<T> {
  items: T[];
  nextCursor?: string | null;
}

export interface TPipeline {
  id: string;
  projectId: string;
  name: string;
  description?: string | null;
  spec: unknown;
  specVersion: number;
  /** The spec as the user wrote it (YAML or JSON), when saved as text. */
  specText?: string | null;
  gitRepo?: string | null;
  gitBranches?: string[];
  createdAt: string;
  updatedAt: string;
}

export type TRunStatus = "queued" | "running" | "waiting_approval" | "awaiting_review" | "succeeded" | "failed" | "blocked" | "cancelled";
export type TStageStatus = "pending" | "queued" | "running" | "waiting" | "succeeded" | "failed" | "skipped" | "cancelled";

export interface TRunSummary {
  id: string;
  projectId: string;
  pipelineId: string;
  pipelineName?: string | null;
  number: number;
  status: TRunStatus;
  trigger: string;
  gitCommit?: string | null;
  gitRef?: string | null;
  currentStage?: string | null;
  error?: string | null;
  createdAt: string;
  startedAt?: string | null;
  finishedAt?: string | null;
}

export interface TStage {
  id?: string;
  stage: string;
  status: TStageStatus;
  attempt: number;
  startedAt?: string | null;
  finishedAt?: string | null;
  progress?: number | null;
  step?: number | null;
  totalSteps?: number | null;
  etaSeconds?: number | null;
  error?: string | null;
  resumedFromStep?: number | null;
}

export interface TRun extends TRunSummary {
  stages: TStage[];
  resolvedSpec?: unknown;
  /** Parameter overrides the run was triggered with ({ "training.learningRate": 0.0005 }). */
  params?: Record<string, unknown> | null;
  specVersion?: number;
  datasetVersionId?: string | null;
  retryOfRunId?: string | null;
  cancelRequestedAt?: string | null;
}

export interface TMetricPoint {
  step: number;
  value: number;
  wallTime: string;
}

export interface TMetricSeries {
  key: string;
  points: TMetricPoint[];
  downsampled: boolean;
  totalPoints: number;
}

export interface TEvalResult {
  metric: string;
  value: number;
  threshold?: number | null;
  comparator?: string | null;
  blocking: boolean;
  passed?: boolean | null;
  reason?: string | null;
  split?: string;
}

export interface TEval {
  results: TEvalResult[];
  gate: { passed: boolean | null; reasons: string[] } | null;
}

export interface TSample {
  index: number;
  prompt: string;
  reference: string;
  prediction: string;
  scores: Record<string, number>;
  review?: "good" | "bad" | null;
  reviewedAt?: string | null;
}

export interface TArtifact {
  id: string;
  kind: string;
  uri: string;
  sha256?: string | null;
  sizeBytes?: number | string | null;
  createdAt: string;
  /** On the data volume, so the download endpoint serves it (remote URIs and missing paths are not). */
  downloadable?: boolean;
  /** A folder (adapter, checkpoint): downloads as a .tar.gz with MANIFEST.sha256. */
  archive?: boolean;
}

export interface TModelVersion {
  id: string;
  modelName: string;
  version: number;
  status: string;
  baseModel: string;
  runId: string;
  gitCommit?: string | null;
  aliases?: string[];
  createdAt: string;
}

export interface TModel {
  name: string;
  versions: TModelVersion[];
}

export interface TLineage {
  commit?: string | null;
  dataset?: { id?: string; name?: string; version?: string; sha256?: string } | null;
  run?: { id: string; number?: number; pipelineName?: string } | null;
  versions?: { id: string; modelName: string; version: number }[];
  deployments?: { id: string; environmentName?: string; state?: string }[];
}

export interface TEnvironment {
  id: string;
  name: string;
  tier: "dev" | "staging" | "prod";
  namespace: string;
  requiresApproval: boolean;
  gatewayUrl?: string | null;
  /** The environment's OpenAI base URL, when the API reports it. */
  inferenceUrl?: string | null;
  servingBackend?: string;
  /** Opt-in: the gateway stores prompts and responses with their feedback (kept feedbackRetentionDays). */
  captureFeedbackData?: boolean;
  feedbackRetentionDays?: number;
}

export interface TVariant {
  id: string;
  role: string;
  weightBps: number;
  modelVersionId: string;
  status: string;
  servedModelName: string;
}

export interface TRolloutEvent {
  id: string;
  type: string;
  step?: number | null;
  weights?: Record<string, number> | null;
  analysis?: unknown;
  decision?: string | null;
  reason: string;
  actorId?: string | null;
  createdAt: string;
}

export interface TDeployment {
  id: string;
  projectId: string;
  environmentId: string;
  endpointName: string;
  strategy: string;
  state: string;
  currentStep: number;
  /** The resolved rollout policy (canary steps, minimum requests, SLOs). */
  policy?: unknown;
  stepStartedAt?: string | null;
  runId?: string | null;
  reason?: string | null;
  createdAt: string;
  finishedAt?: string | null;
  variants: TVariant[];
  events?: TRolloutEvent[];
}

export interface TServingPoint {
  t: string;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  ttftP95: number | null;
  errorRate: number | null;
  rps: number | null;
}

export interface TDeploymentMetrics {
  variants: { variantId: string; role?: string; points: TServingPoint[] }[];
}

export interface TApproval {
  id: string;
  projectId: string;
  environmentId: string;
  subjectType: string;
  subjectId: string;
  deploymentId?: string | null;
  summary: string;
  status: "pending" | "approved" | "rejected" | "cancelled";
  requestedById?: string | null;
  decidedById?: string | null;
  comment?: string | null;
  createdAt: string;
  decidedAt?: string | null;
}

export interface TAuditEntry {
  id: string | number;
  projectId?: string | null;
  actorType: string;
  actorId?: string | null;
  action: string;
  subjectType: string;
  subjectId?: string | null;
  before?: unknown;
  after?: unknown;
  ip?: string | null;
  createdAt: string;
}

export interface TApiToken {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  projectId?: string | null;
  expiresAt?: string | null;
  revokedAt?: string | null;
  lastUsedAt?: string | null;
  createdAt: string;
}

export interface TUser {
  id: string;
  email: string;
  name?: string | null;
  role: TRole;
  disabledAt?: string | null;
  createdAt: string;
}

export interface TWebhook {
  id: string;
  url: string;
  format: "standard" | "slack" | "teams";
  events: string[];
  active: boolean;
  disabledReason: string | null;
  createdAt: string;
}

export interface TWebhookDelivery {
  id: string;
  event: string;
  eventId: string;
  status: "pending" | "succeeded" | "failed";
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
  lastRequest: string | null;
  lastResponse: string | null;
  lastDurationMs: number | null;
  lastAttemptAt: string | null;
  nextAttemptAt: string | null;
  deliveredAt: string | null;
  createdAt: string;
}

export type TReleaseStageState = "pending" | "awaiting_approval" | "rolling_out" | "soaking" | "promoted" | "rolled_back" | "blocked" | "failed";

export interface TReleaseStage {
  id: string;
  position: number;
  environment: { id: string; name: string; tier: "dev" | "staging" | "prod"; inferenceUrl: string | null; frozen: { at: string; reason: string | null; byId: string | null } | null };
  state: TReleaseStageState;
  reason: string | null;
  policy: {
    start: "auto" | "manual";
    strategy: string;
    soakSeconds: number;
    slo: { p99LatencyMs: number; ttftP95Ms: number; maxErrorRate: number; minRequests: number };
    approval: { required: number; role: string; separationOfDuties: boolean };
  };
  soak: { startedAt: string | null; seconds: number; remainingSeconds: number } | null;
  approvals: {
    required: number;
    received: number;
    decisions: { userId: string; email: string | null; decision: string; comment: string | null; at: string }[];
    eligibleApprovers: { userId: string; email: string; name: string | null }[];
  };
  promoteRequestedAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  deployment: { id: string; state: string; reason: string | null; strategy: string; variants: { role: string; modelVersionId: string; servedModelName: string; weightBps: number; status: string }[] } | null;
}

export interface TRelease {
  id: string;
  projectId: string;
  runId: string | null;
  run: { id: string; number: number; pipelineId: string } | null;
  modelVersion: { id: string; modelName: string; version: number; status: string };
  endpointName: string;
  state: "in_progress" | "succeeded" | "failed";
  reason: string | null;
  requestedById: string | null;
  createdAt: string;
  finishedAt: string | null;
  stages: TReleaseStage[];
}
