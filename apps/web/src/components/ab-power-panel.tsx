"use client";
// A/B power and duration: how many rated answers (or requests) each variant needs to detect the chosen minimum effect
// on the primary metric, and how long that takes at the traffic the endpoint took over the last 15 minutes.
import { expectedDuration } from "@loraplane/core";
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { api, qs } from "@/lib/client/api";
import { formatDuration } from "@/lib/client/format";
import type { TVariant } from "@/lib/client/types";

type TSummary = { requests: number; errors: number; feedbackUp: number; feedbackDown: number };
const WINDOW_MINUTES = 15;

export function AbPowerPanel({ deploymentId, variants, policy, live }: { deploymentId: string; variants: TVariant[]; policy: unknown; live: boolean }) {
  const ab = (policy as { ab?: { alpha?: number; allocation?: { metric?: string; mode?: string } } } | null)?.ab;
  const metric = ab?.allocation?.metric === "success" ? "success" : "feedback";
  const [mdePoints, setMdePoints] = useState(5);
  const [since] = useState(() => new Date(Date.now() - WINDOW_MINUTES * 60_000).toISOString());
  const metrics = useQuery({
    queryKey: ["deployment-power", deploymentId, since],
    queryFn: () => api<{ since: string; until: string; variants: { role: string; summary: TSummary }[] }>(`/api/v1/deployments/${deploymentId}/metrics${qs({ since })}`),
    refetchInterval: live ? 30_000 : false,
  });
  const b = variants.find((v) => v.role === "b");
  const data = metrics.data;
  let body: React.ReactNode = <p className="muted small">Loading traffic…</p>;
  if (data) {
    const minutes = Math.max(1 / 60, (Date.parse(data.until) - Date.parse(data.since)) / 60_000);
    const all = data.variants.reduce((s, v) => ({ requests: s.requests + v.summary.requests, rated: s.rated + v.summary.feedbackUp + v.summary.feedbackDown }), { requests: 0, rated: 0 });
    const a = data.variants.find((v) => v.role === "a")?.summary;
    const requestsPerMinute = all.requests / minutes;
    const rated = a ? a.feedbackUp + a.feedbackDown : 0;
    const baseline = metric === "success" ? (a && a.requests > 0 ? 1 - a.errors / a.requests : null) : rated > 0 ? a!.feedbackUp / rated : null;
    const trialsPerRequest = metric === "success" ? 1 : all.requests > 0 ? all.rated / all.requests : 0;
    const mde = mdePoints / 100;
    const out = baseline === null ? null : expectedDuration({ baseline, mde, alpha: ab?.alpha ?? 0.05, power: 0.8, requestsPerMinute, splitBps: b?.weightBps ?? 5_000, trialsPerRequest });
    const unit = metric === "success" ? "requests" : "rated answers";
    body = (
      <div className="stack" style={{ gap: 6 }} data-testid="ab-power">
        <div className="small">
          Primary metric: {metric === "success" ? "success rate (1 − error rate)" : "thumbs-up share"}; a&apos;s rate now {baseline === null ? "unknown (no data yet)" : `${(baseline * 100).toFixed(1)}%`}; traffic{" "}
          {requestsPerMinute.toFixed(1)} requests/min over the last {WINDOW_MINUTES} min
          {metric === "feedback" ? `, ${(trialsPerRequest * 100).toFixed(1)}% of them rated` : ""}.
        </div>
        {out ? (
          <div data-testid="ab-duration">
            To detect {mdePoints} points at α {ab?.alpha ?? 0.05} with 80% power: <strong>{out.perArm.toLocaleString("en-US")}</strong> {unit} per variant, about{" "}
            <strong>{formatDuration(out.minutes * 60)}</strong> at this traffic and split.
          </div>
        ) : (
          <div className="muted small" data-testid="ab-duration">
            No estimate: {baseline === null ? `variant a has no ${unit} yet` : "no traffic in the window"}.
          </div>
        )}
        <div className="muted small">Fixed-horizon figure; the always-valid test stops sooner when the effect is larger than this, and needs somewhat more when it is exactly this.</div>
      </div>
    );
  }
  return (
    <div className="card">
      <h2>Power and duration</h2>
      <div className="field" style={{ maxWidth: 260 }}>
        <label htmlFor="mde">Minimum detectable effect (points)</label>
        <input id="mde" className="input" type="number" min={0.5} max={50} step={0.5} value={mdePoints} onChange={(e) => setMdePoints(Math.max(0.5, Number(e.target.value) || 0.5))} />
      </div>
      {body}
    </div>
  );
}
