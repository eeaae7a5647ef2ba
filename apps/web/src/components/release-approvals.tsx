"use client";
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { api, qs } from "@/lib/client/api";
import { formatNumber } from "@/lib/client/format";
import type { TEval, TRelease, TReleaseStage } from "@/lib/client/types";
import { GateBanner } from "./run-panels";
import { Badge } from "./ui";

interface TSummary {
  requests: number;
  errorRate: number;
  p99LatencyMs: number | null;
  ttftP95Ms: number | null;
}

const ms = (v: number | null | undefined) => (v === null || v === undefined ? "n/a" : `${Math.round(v)} ms`);

/** The previous environment's live figures for this version (last 15 minutes) against the SLOs of the stage waiting. */
function PreviousSlo({ release, previous, waiting }: { release: TRelease; previous: TReleaseStage; waiting: TReleaseStage }) {
  const deploymentId = previous.deployment?.id;
  const query = useQuery({
    queryKey: ["release-previous-slo", deploymentId],
    enabled: Boolean(deploymentId),
    queryFn: () => api<{ variants: { modelVersionId: string; summary: TSummary }[] }>(`/api/v1/deployments/${deploymentId}/metrics${qs({ since: new Date(Date.now() - 15 * 60_000).toISOString() })}`),
    select: (m) => m.variants.find((v) => v.modelVersionId === release.modelVersion.id)?.summary ?? null,
    refetchInterval: 15_000,
  });
  const slo = waiting.policy.slo;
  if (!deploymentId) return <p className="small muted">No deployment in {previous.environment.name} to measure.</p>;
  const s = query.data;
  const rows: [string, string, string, boolean | null][] = s
    ? [
        ["p99 latency", ms(s.p99LatencyMs), `≤ ${slo.p99LatencyMs} ms`, s.p99LatencyMs === null ? null : s.p99LatencyMs <= slo.p99LatencyMs],
        ["TTFT p95", ms(s.ttftP95Ms), `≤ ${slo.ttftP95Ms} ms`, s.ttftP95Ms === null ? null : s.ttftP95Ms <= slo.ttftP95Ms],
        ["error rate", `${(s.errorRate * 100).toFixed(2)}%`, `≤ ${(slo.maxErrorRate * 100).toFixed(1)}%`, s.errorRate <= slo.maxErrorRate],
        ["requests", formatNumber(s.requests), `≥ ${slo.minRequests}`, s.requests >= slo.minRequests],
      ]
    : [];
  return (
    <div data-testid="previous-slo">
      <h3 className="small" style={{ margin: "8px 0 4px" }}>
        Live in {previous.environment.name} (last 15 min) against {waiting.environment.name}&apos;s SLOs
      </h3>
      {query.isLoading ? (
        <span className="small muted">Loading…</span>
      ) : !s ? (
        <span className="small muted">No traffic recorded for this version in {previous.environment.name}.</span>
      ) : (
        <table className="table small">
          <tbody>
            {rows.map(([name, value, limit, ok]) => (
              <tr key={name}>
                <td>{name}</td>
                <td className="num mono">{value}</td>
                <td className="muted">{limit}</td>
                <td>{ok === null ? <span className="muted">n/a</span> : ok ? <Badge tone="green">within</Badge> : <Badge tone="red">breached</Badge>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

function GateResult({ runId }: { runId: string }) {
  const query = useQuery({ queryKey: ["run-eval", runId], queryFn: () => api<TEval>(`/api/v1/runs/${runId}/eval`) });
  if (!query.data) return <span className="small muted">{query.error ? "Gate result unavailable." : "Loading the gate result…"}</span>;
  return (
    <div data-testid="release-gate">
      <GateBanner gate={query.data.gate} />
      {query.data.results.length ? (
        <div className="small muted" style={{ marginTop: 4 }}>
          {query.data.results.map((r) => `${r.metric} ${formatNumber(r.value, 3)}${r.threshold !== null && r.threshold !== undefined ? ` (${r.comparator ?? ">="} ${formatNumber(r.threshold)})` : ""}`).join(" · ")}
        </div>
      ) : null}
    </div>
  );
}

/** Evidence next to the buttons of a release stage waiting for approval: the eval gate and the previous environment's SLOs. */
export function ReleaseApprovalEvidence({ release, stage }: { release: TRelease; stage: TReleaseStage }) {
  const previous = release.stages.filter((s) => s.position < stage.position).sort((a, b) => b.position - a.position)[0];
  return (
    <div className="grid grid-2" style={{ marginTop: 8 }}>
      <div>
        <h3 className="small" style={{ margin: "0 0 4px" }}>
          Evaluation gate {release.run ? <Link href={`/runs/${release.run.id}`}>run #{release.run.number}</Link> : null}
        </h3>
        {release.runId ? <GateResult runId={release.runId} /> : <span className="small muted">Deployed by hand: no evaluation run.</span>}
      </div>
      <div>{previous ? <PreviousSlo release={release} previous={previous} waiting={stage} /> : <span className="small muted">First environment: no earlier figures.</span>}</div>
    </div>
  );
}
