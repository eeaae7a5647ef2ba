"use client";
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useSearchParams } from "next/navigation";
import { api, qs } from "@/lib/client/api";
import { formatNumber } from "@/lib/client/format";
import type { TModelVersion } from "@/lib/client/types";
import { Suspense } from "react";
import { Empty, Loading, PageHead, QueryView } from "@/components/ui";

interface TCompare {
  a: TModelVersion;
  b: TModelVersion;
  metrics: { metric: string; a: number | null; b: number | null; delta: number | null }[];
}

// Metrics where smaller is better; every other metric is a score in [0, 1] where larger is better.
const LOWER_IS_BETTER = new Set(["refusal_rate"]);

function CompareVersions() {
  const params = useSearchParams();
  const a = params.get("a");
  const b = params.get("b");
  const query = useQuery({ queryKey: ["compare", a, b], enabled: Boolean(a && b), queryFn: () => api<TCompare>(`/api/v1/model-versions/compare${qs({ a, b })}`) });
  const label = (s: TModelVersion) => `${s.modelName} v${s.version}`;
  return (
    <>
      <PageHead title="Compare versions" crumbs={[{ href: "/models", label: "Models" }]} />
      {!a || !b ? (
        <Empty title="Pick two versions">Tick two versions in the registry, then press Compare.</Empty>
      ) : (
        <QueryView query={query}>
          {(data) => {
            const rows = data.metrics;
            return rows.length ? (
              <div className="table-wrap">
                <table className="table">
                  <thead>
                    <tr>
                      <th>Metric</th>
                      <th className="num">
                        <Link href={`/models/${data.a.id}`}>{label(data.a)}</Link>
                      </th>
                      <th className="num">
                        <Link href={`/models/${data.b.id}`}>{label(data.b)}</Link>
                      </th>
                      <th className="num">Δ (B − A)</th>
                    </tr>
                  </thead>
                  <tbody>
                    {rows.map((r) => {
                      const delta = r.delta;
                      const better = LOWER_IS_BETTER.has(r.metric) ? (delta ?? 0) < 0 : (delta ?? 0) > 0;
                      return (
                        <tr key={r.metric}>
                          <td className="mono">{r.metric}</td>
                          <td className="num">{formatNumber(r.a)}</td>
                          <td className="num">{formatNumber(r.b)}</td>
                          <td className="num" style={{ color: delta === null || delta === 0 ? undefined : better ? "var(--green)" : "var(--red)" }}>
                            {delta === null ? "—" : `${delta > 0 ? "+" : ""}${formatNumber(delta)}`}
                          </td>
                        </tr>
                      );
                    })}
                  </tbody>
                </table>
              </div>
            ) : (
              <Empty title="Neither version has evaluation results" />
            );
          }}
        </QueryView>
      )}
    </>
  );
}

// useSearchParams needs a Suspense boundary of its own (the dashboard layout has none, see layout.tsx).
export default function CompareVersionsPage() {
  return (
    <Suspense fallback={<Loading />}>
      <CompareVersions />
    </Suspense>
  );
}
