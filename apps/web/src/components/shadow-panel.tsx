"use client";
// Shadow evaluation of a candidate before any user sees it: the gate's figures over the mirrored pairs, its outcome,
// and the pairs where the candidate's answer differed most from the stable's (with the LLM judge's score when it is on).
import { Badge } from "@/components/ui";

export type TShadowCheck = { name: string; value: number | null; limit: number; passed: boolean };
export type TShadowPair = {
  requestId: string;
  prompt: string;
  stableText: string;
  candidateText: string | null;
  candidateError: string | null;
  rougeL: number;
  candidateRefusal: boolean;
  stableLatencyMs: number;
  candidateLatencyMs: number | null;
  judgeScore: number | null;
  judgeReason: string | null;
};
export type TShadowResults = {
  policy: { fraction: number; minSamples: number; judge: { enabled: boolean; minScore: number } };
  summary: {
    samples: number;
    agreement: number | null;
    exactMatchRate: number | null;
    candidateRefusalRate: number | null;
    stableRefusalRate: number | null;
    candidateErrorRate: number | null;
    stableMeanChars: number | null;
    candidateMeanChars: number | null;
    stableLatencyP99Ms: number | null;
    candidateLatencyP99Ms: number | null;
    stableTtftP95Ms: number | null;
    candidateTtftP95Ms: number | null;
    judged: number;
    judgeMeanScore: number | null;
  };
  checks: TShadowCheck[];
  gate: { decision: "passed" | "failed"; reason: string; at: string } | null;
  disagreements: TShadowPair[];
};

const num = (v: number | null, digits = 3) => (v === null ? "–" : Number.isInteger(v) ? String(v) : v.toFixed(digits));
const ms = (v: number | null) => (v === null ? "–" : `${Math.round(v)} ms`);
const pct = (v: number | null) => (v === null ? "–" : `${(v * 100).toFixed(1)}%`);

/** The prompt as stored ({ prompt } or { messages }), shown as its last user text. */
function promptText(stored: string): string {
  try {
    const p = JSON.parse(stored) as { prompt?: unknown; messages?: { content?: unknown }[] };
    if (typeof p.prompt === "string") return p.prompt;
    const last = p.messages?.at(-1)?.content;
    return typeof last === "string" ? last : stored;
  } catch {
    return stored;
  }
}

export function ShadowPanel({ shadow }: { shadow: TShadowResults }) {
  const { summary: s, gate } = shadow;
  const rows: [string, string, string][] = [
    ["Agreement (mean ROUGE-L F1)", num(s.agreement), ""],
    ["Exact match", pct(s.exactMatchRate), ""],
    ["Refusals", pct(s.candidateRefusalRate), pct(s.stableRefusalRate)],
    ["Errors", pct(s.candidateErrorRate), "–"],
    ["Mean answer length (chars)", num(s.candidateMeanChars, 0), num(s.stableMeanChars, 0)],
    ["P99 latency", ms(s.candidateLatencyP99Ms), ms(s.stableLatencyP99Ms)],
    ["P95 time to first token", ms(s.candidateTtftP95Ms), ms(s.stableTtftP95Ms)],
    ...(shadow.policy.judge.enabled ? [[`LLM judge, mean score 1–10 (${s.judged} judged)`, num(s.judgeMeanScore, 2), ""] as [string, string, string]] : []),
  ];
  return (
    <div className="card" data-testid="shadow-panel">
      <h2 className="row" style={{ gap: 8 }}>
        Shadow evaluation{" "}
        {gate ? <Badge tone={gate.decision === "passed" ? "green" : "red"}>gate {gate.decision}</Badge> : <Badge tone="blue">running</Badge>}
      </h2>
      <p className="muted small">
        {Math.round(shadow.policy.fraction * 100)}% of live requests were copied to the candidate after the client had its answer; its answers reached no client.{" "}
        {s.samples} of {shadow.policy.minSamples} pairs needed are scored.
      </p>
      {gate ? (
        <div className={`alert ${gate.decision === "passed" ? "green" : "red"}`} role="status" data-testid="shadow-gate" style={{ marginBottom: 10 }}>
          {gate.reason}
        </div>
      ) : null}
      <div className="grid grid-2">
        <div className="table-wrap">
          <table className="table">
            <thead>
              <tr>
                <th>Measure</th>
                <th className="num">Candidate</th>
                <th className="num">Stable</th>
              </tr>
            </thead>
            <tbody>
              {rows.map(([label, c, st]) => (
                <tr key={label}>
                  <td>{label}</td>
                  <td className="num">{c}</td>
                  <td className="num">{st}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <div className="table-wrap">
          <table className="table" data-testid="shadow-checks">
            <thead>
              <tr>
                <th>Gate check</th>
                <th className="num">Value</th>
                <th className="num">Limit</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {shadow.checks.map((c) => (
                <tr key={c.name}>
                  <td className="small">{c.name.replace(/_/g, " ")}</td>
                  <td className="num">{num(c.value)}</td>
                  <td className="num">{num(c.limit)}</td>
                  <td>{(c.name === "judge_score" ? s.judged : s.samples) >= shadow.policy.minSamples ? <Badge tone={c.passed ? "green" : "red"}>{c.passed ? "pass" : "fail"}</Badge> : <span className="muted small">waiting</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </div>
      <h3 style={{ marginTop: 14 }}>Where they disagree most</h3>
      {shadow.disagreements.length === 0 ? (
        <p className="muted small">No disagreeing pairs{s.samples ? "" : " yet"}.</p>
      ) : (
        <div className="stack" data-testid="shadow-disagreements" style={{ gap: 10 }}>
          {shadow.disagreements.map((p) => (
            <div key={p.requestId} className="card" style={{ padding: 10 }}>
              <div className="small muted" style={{ marginBottom: 6, overflowWrap: "anywhere" }}>
                {p.judgeScore !== null ? `judge ${num(p.judgeScore, 1)}/10${p.judgeReason ? ` (${p.judgeReason.slice(0, 200)})` : ""} · ` : ""}ROUGE-L {p.rougeL.toFixed(2)} · prompt: {promptText(p.prompt).slice(0, 300)}
              </div>
              <div className="grid grid-2" style={{ gap: 8 }}>
                <div>
                  <div className="small muted">Stable · {ms(p.stableLatencyMs)}</div>
                  <div style={{ whiteSpace: "pre-wrap", overflowWrap: "anywhere" }}>{p.stableText.slice(0, 600)}</div>
                </div>
                <div>
                  <div className="small muted">
                    Candidate · {p.candidateError ? `failed: ${p.candidateError}` : ms(p.candidateLatencyMs)}
                    {p.candidateRefusal ? " · refusal" : ""}
                  </div>
                  <div style={{ whiteSpace: "pre-wrap", overflowWrap: "anywhere" }}>{(p.candidateText ?? "").slice(0, 600)}</div>
                </div>
              </div>
            </div>
          ))}
        </div>
      )}
    </div>
  );
}
