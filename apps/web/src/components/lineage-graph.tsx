"use client";
import Link from "next/link";
import { Fragment } from "react";

export interface TLineageNode {
  id: string;
  /** `source`: the deployment whose production feedback a dataset version was built from. */
  kind: "source" | "feedback" | "commit" | "dataset" | "run" | "version" | "deployment";
  label: string;
  sub?: string;
  href?: string;
  /** Explicit incoming edges; without it a node is joined to every node of the column before. */
  parents?: string[];
  /** Tooltip beyond label and sub (what does not fit in the box). */
  detail?: string;
}

const KIND_LABEL: Record<TLineageNode["kind"], string> = {
  source: "Deployment",
  feedback: "Feedback",
  commit: "Commit",
  dataset: "Dataset",
  run: "Run",
  version: "Model version",
  deployment: "Deployment",
};
const KIND_COLOR: Record<TLineageNode["kind"], string> = {
  source: "#d97706",
  feedback: "#db2777",
  commit: "#52525b",
  dataset: "#0891b2",
  run: "#4f46e5",
  version: "#16a34a",
  deployment: "#d97706",
};
const ORDER: TLineageNode["kind"][][] = [["commit"], ["dataset"], ["run"], ["version"], ["deployment"]];
// With feedback upstream, the commit and the dataset are the run's two inputs side by side.
const ORDER_WITH_FEEDBACK: TLineageNode["kind"][][] = [["source"], ["feedback"], ["commit", "dataset"], ["run"], ["version"], ["deployment"]];

const NODE_W = 150;
const NODE_H = 44;
const COL_GAP = 46;
const ROW_GAP = 12;

/**
 * Commit → dataset → run → version → deployments as columns of boxes joined by curves. Every node of one column links
 * to every node of the next: lineage here is a chain per run, so the fan-out only happens at versions and deployments.
 */
export function LineageGraph({ nodes }: { nodes: TLineageNode[] }) {
  const order = nodes.some((n) => n.kind === "feedback") ? ORDER_WITH_FEEDBACK : ORDER;
  const columns = order.map((kinds) => nodes.filter((n) => kinds.includes(n.kind))).filter((c) => c.length);
  if (!columns.length) return <div className="state">No lineage recorded.</div>;
  const rows = Math.max(...columns.map((c) => c.length));
  const width = columns.length * NODE_W + (columns.length - 1) * COL_GAP + 2;
  const height = rows * NODE_H + (rows - 1) * ROW_GAP + 22;
  const pos = (col: number, row: number, count: number) => {
    const offset = ((rows - count) * (NODE_H + ROW_GAP)) / 2;
    return { x: 1 + col * (NODE_W + COL_GAP), y: 20 + offset + row * (NODE_H + ROW_GAP) };
  };
  return (
    <div className="lineage" style={{ overflowX: "auto" }}>
      <svg width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="img" aria-label="Lineage graph">
        {columns.map((col, c) => (
          <text key={`h${c}`} x={pos(c, 0, 1).x} y={12} fill="#71717a">
            {[...new Set(col.map((n) => KIND_LABEL[n.kind]))].join(" · ")}
          </text>
        ))}
        {columns.slice(0, -1).map((col, c) =>
          col.map((from, i) =>
            columns[c + 1]!.map((to, j) => {
              if (to.parents && !to.parents.includes(from.id)) return null;
              const a = pos(c, i, col.length);
              const b = pos(c + 1, j, columns[c + 1]!.length);
              const x1 = a.x + NODE_W;
              const y1 = a.y + NODE_H / 2;
              const x2 = b.x;
              const y2 = b.y + NODE_H / 2;
              const mid = (x1 + x2) / 2;
              return <path key={`${from.id}-${to.id}`} data-edge={`${from.id}->${to.id}`} d={`M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`} fill="none" stroke="#a1a1aa" strokeWidth={1.2} markerEnd="url(#arrow)" />;
            }),
          ),
        )}
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse">
            <path d="M 0 0 L 10 5 L 0 10 z" fill="#a1a1aa" />
          </marker>
        </defs>
        {columns.map((col, c) =>
          col.map((node, r) => {
            const p = pos(c, r, col.length);
            const box = (
              <g>
                <rect x={p.x} y={p.y} width={NODE_W} height={NODE_H} rx={6} fill="#fff" stroke={KIND_COLOR[node.kind]} strokeWidth={1.4} />
                <rect x={p.x} y={p.y} width={4} height={NODE_H} rx={2} fill={KIND_COLOR[node.kind]} />
                <text x={p.x + 12} y={p.y + 18} fill="#18181b" fontWeight={600}>
                  {node.label.length > 20 ? `${node.label.slice(0, 19)}…` : node.label}
                </text>
                {node.sub ? (
                  <text x={p.x + 12} y={p.y + 34} fill="#71717a">
                    {node.sub.length > 22 ? `${node.sub.slice(0, 21)}…` : node.sub}
                  </text>
                ) : null}
                <title>{`${KIND_LABEL[node.kind]}: ${node.label}${node.sub ? ` (${node.sub})` : ""}${node.detail ? ` — ${node.detail}` : ""}`}</title>
              </g>
            );
            return <Fragment key={node.id}>{node.href ? <Link href={node.href} aria-label={`${KIND_LABEL[node.kind]} ${node.label}`}>{box}</Link> : box}</Fragment>;
          }),
        )}
      </svg>
    </div>
  );
}

type TLoose = Record<string, unknown>;

function obj(value: unknown): TLoose | undefined {
  return value && typeof value === "object" && !Array.isArray(value) ? (value as TLoose) : undefined;
}
function arr(value: unknown): TLoose[] {
  return Array.isArray(value) ? (value.filter((v) => v && typeof v === "object") as TLoose[]) : [];
}
function s(value: unknown): string | undefined {
  return typeof value === "string" || typeof value === "number" ? String(value) : undefined;
}

/**
 * Graph nodes from what the API returns: a run's lineage (`{ run, modelVersions }`), or one model version's lineage
 * (the version with its run, dataset version and the deployment of each variant).
 */
export function lineageNodes(data: unknown): TLineageNode[] {
  const root = obj(data) ?? {};
  const versions = root.modelVersions ? arr(root.modelVersions) : root.modelName ? [root] : [];
  const run = obj(root.run) ?? obj(versions[0]?.run);
  const nodes: TLineageNode[] = [];

  const commit = s(run?.gitCommit) ?? s(versions[0]?.gitCommit);
  if (commit) nodes.push({ id: `c:${commit}`, kind: "commit", label: commit.slice(0, 10), sub: s(run?.gitRef) });

  const datasetVersion = obj(root.datasetVersion) ?? versions.map((v) => obj(v.datasetVersion)).find(Boolean);
  const specDataset = obj(obj(run?.resolvedSpec)?.dataset);
  // A version built from production feedback: deployment → feedback slice → dataset version.
  const fromFeedback = obj(datasetVersion?.lineage);
  if (fromFeedback?.kind === "feedback" && s(fromFeedback.deploymentId)) {
    const depId = s(fromFeedback.deploymentId)!;
    const window = obj(fromFeedback.window);
    const ratings = Array.isArray(obj(fromFeedback.filter)?.ratings) ? (obj(fromFeedback.filter)!.ratings as unknown[]).map(String).join("+") : "";
    // Month-day in the box; the full window and filter in the tooltip.
    const from = s(window?.from)?.slice(5, 10);
    const to = s(window?.to)?.slice(5, 10);
    nodes.push({ id: `s:${depId}`, kind: "source", label: s(fromFeedback.endpointName) ?? depId.slice(0, 8), sub: s(fromFeedback.environment) ?? undefined, href: `/deployments/${depId}` });
    nodes.push({
      id: `f:${s(datasetVersion!.id)}`,
      kind: "feedback",
      label: `${s(fromFeedback.rows) ?? "?"} rows`,
      sub: `${from ?? "start"} → ${to ?? "now"}`,
      detail: `${ratings || "any rating"}; ${s(window?.from) ?? "start"} → ${s(window?.to) ?? "now"}`,
      parents: [`s:${depId}`],
    });
  }
  if (commit && fromFeedback?.kind === "feedback") nodes[0] = { ...nodes[0]!, parents: [] };
  if (datasetVersion) {
    const sha = s(datasetVersion.sha256);
    nodes.push({
      id: `d:${s(datasetVersion.id)}`,
      kind: "dataset",
      label: `${s(obj(datasetVersion.dataset)?.name) ?? "dataset"}@${s(datasetVersion.version) ?? "?"}`,
      sub: sha ? `sha256:${sha.slice(0, 10)}` : undefined,
      ...(obj(datasetVersion.dataset)?.id ? { href: `/datasets/${s(obj(datasetVersion.dataset)!.id)}` } : {}),
      ...(fromFeedback?.kind === "feedback" ? { parents: [`f:${s(datasetVersion.id)}`] } : {}),
    });
  } else if (specDataset) {
    nodes.push({ id: "d:spec", kind: "dataset", label: `${s(specDataset.name) ?? "dataset"}@${s(specDataset.version) ?? "?"}` });
  }

  if (run?.id) {
    const id = s(run.id)!;
    nodes.push({ id: `r:${id}`, kind: "run", label: s(run.number) ? `Run #${s(run.number)}` : `Run ${id.slice(0, 8)}`, sub: s(run.status), href: `/runs/${id}` });
  }
  for (const v of versions) {
    const id = s(v.id) ?? "version";
    nodes.push({ id: `v:${id}`, kind: "version", label: `${s(v.modelName) ?? "model"} v${s(v.version) ?? "?"}`, sub: s(v.status), href: `/models/${id}` });
    for (const variant of arr(v.variants)) {
      const dep = obj(variant.deployment);
      if (!dep?.id) continue;
      const depId = s(dep.id)!;
      nodes.push({ id: `p:${depId}`, kind: "deployment", label: s(dep.endpointName) ?? depId.slice(0, 8), sub: [s(dep.state), s(variant.role)].filter(Boolean).join(" · "), href: `/deployments/${depId}` });
    }
  }
  return nodes.filter((n, i) => nodes.findIndex((m) => m.id === n.id) === i);
}
