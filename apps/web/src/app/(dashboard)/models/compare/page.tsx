"use client";
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useSearchParams } from "next/navigation";
import { api, qs } from "@/lib/client/api";
import { formatNumber } from "@/lib/client/format";
import { Empty, PageHead, QueryView } from "@/components/ui";

interface TSide {
  id: string;
  modelName?: string;
  version?: number;
  evalResults?: { metric: string; value: number }[];
}
interface TCompare {
  a: TSide;
  b: TSide;
  metrics?: { metric: string; a: number | null; b: number | null; delta?: number | null }[];
}

/** Metric rows from the response, or built from each side's eval results when the server sent only those. */
function rowsOf(data: TCompare) {
  if (data.metrics?.length) return data.metrics;
  const a = new Map((data.a.evalResults ?? []).map((r) => [r.metric, r.value]));
  const b = new Map((data.b.evalResults ?? []).map((r) => [r.metric, r.value]));
  return [...new Set([...a.keys(), ...b.keys()])].sort().map((metric) => ({ metric, a: a.get(metric) ?? null, b: b.get(metric) ?? null, delta: null }));
}

export default function CompareVersionsPage() {
  const params = useSearchParams();
  const a = params.get("a");
  const b = params.get("b");
  const query = useQuery({ queryKey: ["compare", a, b], enabled: Boolean(a && b), queryFn: () => api<TCompare>(`/api/v1/model-versions/compare${qs({ a, b })}`) });
  const label = (s: TSide) => `${s.modelName ?? "model"} v${s.version ?? "?"}`;
  return (
    <>
      <PageHead title="Compare versions" crumbs={[{ href: "/models", label: "Models" }]} />
      {!a || !b ? (
        <Empty title="Pick two versions">Tick two versions in the registry, then press Compare.</Empty>
      ) : (
        <QueryView query={query}>
          {(data) => {
            const rows = rowsOf(data);
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
                      const delta = r.delta ?? (r.a !== null && r.b !== null ? r.b - r.a : null);
                      const better = r.metric === "refusal_rate" ? (delta ?? 0) < 0 : (delta ?? 0) > 0;
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
