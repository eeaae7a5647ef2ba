"use client";
import { useState } from "react";
import { useProject } from "@/hooks/use-project";
import { RunsTable } from "@/components/runs-table";
import { Empty, PageHead } from "@/components/ui";

const STATUSES = ["", "queued", "running", "waiting_approval", "awaiting_review", "succeeded", "failed", "blocked", "cancelled"];

export default function RunsPage() {
  const { projectId } = useProject();
  const [status, setStatus] = useState("");
  return (
    <>
      <PageHead
        title="Runs"
        actions={
          <label className="row small">
            Status
            <select className="input" style={{ width: 160 }} value={status} onChange={(e) => setStatus(e.target.value)}>
              {STATUSES.map((s) => (
                <option key={s} value={s}>
                  {s ? s.replace(/_/g, " ") : "any"}
                </option>
              ))}
            </select>
          </label>
        }
      />
      {projectId ? <RunsTable projectId={projectId} status={status || undefined} /> : <Empty title="No project selected" />}
    </>
  );
}
