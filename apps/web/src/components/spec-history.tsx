"use client";
import { useQuery } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { api } from "@/lib/client/api";
import { diffLines } from "@/lib/client/diff";
import { formatTime } from "@/lib/client/format";
import { formatSpec } from "@/lib/client/spec-text";
import type { TPipeline } from "@/lib/client/types";
import { useDirectory } from "@/hooks/use-directory";
import { Empty, QueryView } from "./ui";

interface TSpecVersion {
  version: number;
  spec: unknown;
  specText: string | null;
  createdById: string | null;
  createdAt: string;
}

const textOf = (v: { spec: unknown; specText?: string | null }) => v.specText ?? formatSpec(v.spec, "yaml");

/** The spec as the user wrote it, and what changed between any two saved versions. */
export function SpecView({ pipeline }: { pipeline: TPipeline }) {
  const directory = useDirectory(pipeline.projectId);
  const versions = useQuery({
    queryKey: ["pipeline-spec-versions", pipeline.id, pipeline.specVersion],
    queryFn: () => api<{ items: TSpecVersion[] }>(`/api/v1/pipelines/${pipeline.id}/spec-versions`),
    select: (d) => d.items,
  });
  const [base, setBase] = useState<number | null>(null);
  const older = (versions.data ?? []).filter((v) => v.version < pipeline.specVersion);
  const compareTo = base ?? older[0]?.version ?? null;
  const baseVersion = older.find((v) => v.version === compareTo);
  const current = textOf(pipeline);
  const diff = useMemo(() => (baseVersion ? diffLines(textOf(baseVersion), current) : []), [baseVersion, current]);
  const changed = diff.filter((d) => d.kind !== "same").length;
  return (
    <div className="stack">
      <div className="card">
        <div className="card-head">
          <h2>Spec v{pipeline.specVersion}</h2>
          <span className="muted small">{pipeline.specText ? "as written" : "saved before text was kept: shown as YAML"}</span>
        </div>
        <pre className="mono" data-testid="spec-text" style={{ margin: 0, overflow: "auto" }}>
          {current}
        </pre>
      </div>
      <div className="card">
        <div className="card-head">
          <h2>Changes</h2>
          {older.length ? (
            <label className="row small">
              Compare v{pipeline.specVersion} with
              <select className="input" style={{ width: "auto", height: 26 }} value={compareTo ?? ""} onChange={(e) => setBase(Number(e.target.value))} aria-label="Version to compare with">
                {older.map((v) => (
                  <option key={v.version} value={v.version}>
                    v{v.version} · {formatTime(v.createdAt)}
                    {directory.userName(v.createdById) ? ` · ${directory.userName(v.createdById)}` : ""}
                  </option>
                ))}
              </select>
            </label>
          ) : null}
        </div>
        <QueryView query={versions} isEmpty={() => older.length === 0} empty={<Empty title="Only one version so far">Saving a change records a new version to compare.</Empty>}>
          {() =>
            changed === 0 ? (
              <p className="muted">No differences in the text.</p>
            ) : (
              <pre className="mono diff" aria-label={`Differences between v${compareTo} and v${pipeline.specVersion}`} style={{ margin: 0, overflow: "auto" }}>
                {diff.map((d, i) => (
                  <div key={i} className={`diff-${d.kind}`}>
                    {d.kind === "added" ? "+ " : d.kind === "removed" ? "- " : "  "}
                    {d.text}
                  </div>
                ))}
              </pre>
            )
          }
        </QueryView>
      </div>
    </div>
  );
}
