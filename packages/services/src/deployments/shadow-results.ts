// What the deployment page shows of a shadow evaluation: the gate's figures over the stored pairs, the gate's outcome,
// and the pairs where the candidate disagreed with the stable most.
import { type Db, findDeploymentById, findLatestRolloutEvent, listShadowSamples } from "@loraplane/db";
import { shadowChecks, summarizeShadow, type TCheck, type TShadowPolicy, type TShadowSummary } from "@loraplane/core";
import { parsePolicy } from "./shared.ts";

export type TShadowPair = {
  requestId: string;
  prompt: string;
  stableText: string;
  candidateText: string | null;
  candidateError: string | null;
  rougeL: number;
  exactMatch: boolean;
  candidateRefusal: boolean;
  stableLatencyMs: number;
  candidateLatencyMs: number | null;
  /** The LLM judge's 1-10 score and reason; null when not judged. */
  judgeScore: number | null;
  judgeReason: string | null;
  createdAt: string;
};

export type TShadowResults = {
  policy: TShadowPolicy;
  summary: TShadowSummary;
  checks: TCheck[];
  /** The gate's recorded outcome; null while the shadow phase runs. */
  gate: { decision: "passed" | "failed"; reason: string; at: string } | null;
  /** Lowest judge score first when the judge is on, else lowest agreement first. */
  disagreements: TShadowPair[];
};

/** Null for a deployment without shadow evaluation. */
export async function getShadowResults(db: Db, deploymentId: string, maxPairs = 5): Promise<TShadowResults | null> {
  const d = await findDeploymentById(db, deploymentId);
  if (!d) return null;
  const policy = parsePolicy(d).shadow;
  const samples = await listShadowSamples(db, d.id, policy.maxStoredSamples);
  if (!policy.enabled && samples.length === 0) return null;
  const summary = summarizeShadow(samples);
  const event = await findLatestRolloutEvent(db, d.id, "shadow_gate");
  const disagreements = [...samples]
    .sort((a, b) => (policy.judge.enabled ? (a.judgeScore ?? 11) - (b.judgeScore ?? 11) : 0) || a.rougeL - b.rougeL || Number(b.id - a.id))
    .slice(0, maxPairs)
    .filter((s) => !s.exactMatch)
    .map((s) => ({
      requestId: s.requestId,
      prompt: s.prompt,
      stableText: s.stableText,
      candidateText: s.candidateText,
      candidateError: s.candidateError,
      rougeL: s.rougeL,
      exactMatch: s.exactMatch,
      candidateRefusal: s.candidateRefusal,
      stableLatencyMs: s.stableLatencyMs,
      candidateLatencyMs: s.candidateLatencyMs,
      judgeScore: s.judgeScore,
      judgeReason: s.judgeReason,
      createdAt: s.createdAt.toISOString(),
    }));
  return {
    policy,
    summary,
    checks: shadowChecks(summary, policy),
    gate: event ? { decision: event.decision === "passed" ? "passed" : "failed", reason: event.reason, at: event.createdAt.toISOString() } : null,
    disagreements,
  };
}
