"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useState } from "react";
import { api, qs } from "@/lib/client/api";
import { formatRelative, formatTime } from "@/lib/client/format";
import type { TApproval, TRelease } from "@/lib/client/types";
import { ReleaseMatrix } from "@/components/release-matrix";
import { ReleaseApprovalEvidence } from "@/components/release-approvals";
import { useDirectory } from "@/hooks/use-directory";
import { useProject } from "@/hooks/use-project";
import { ConfirmDialog } from "@/components/confirm-dialog";
import { Badge, Empty, PageHead, QueryView, StatusBadge, Tabs } from "@/components/ui";

function subjectHref(a: TApproval): string | null {
  if (a.deploymentId) return `/deployments/${a.deploymentId}`;
  if (a.subjectType === "run") return `/runs/${a.subjectId}`;
  if (a.subjectType === "model_version") return `/models/${a.subjectId}`;
  return null;
}

export default function ApprovalsPage() {
  const { projectId, can, me } = useProject();
  const queryClient = useQueryClient();
  const [status, setStatus] = useState<"pending" | "approved" | "rejected">("pending");
  const directory = useDirectory(projectId);
  const who = (id: string | null | undefined) => (id && id === me?.user.id ? "you" : directory.userName(id) ?? "a former member");
  const [deciding, setDeciding] = useState<{ approval: TApproval; verdict: "approve" | "reject" } | null>(null);
  const query = useQuery({
    queryKey: ["approvals", projectId, status],
    enabled: Boolean(projectId),
    queryFn: () => api<{ items: TApproval[] }>(`/api/v1/approvals${qs({ projectId, status })}`),
    select: (d) => d.items,
    refetchInterval: 10_000,
  });
  const releases = useQuery({
    queryKey: ["releases", projectId, "awaiting_approval"],
    enabled: Boolean(projectId) && status === "pending",
    queryFn: async () => ({ items: (await api<{ items: TRelease[] }>(`/api/v1/projects/${projectId}/releases${qs({ stageState: "awaiting_approval" })}`)).items, fetchedAt: Date.now() }),
    refetchInterval: 10_000,
  });
  const decide = useMutation({
    mutationFn: ({ id, verdict, comment }: { id: string; verdict: "approve" | "reject"; comment: string }) => api(`/api/v1/approvals/${id}/${verdict}`, { method: "POST", body: { comment: comment || undefined } }),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["approvals"] }),
  });

  return (
    <>
      <PageHead title="Approvals" sub="Production releases wait here for an approver. Nobody approves their own request." />
      <Tabs value={status} onChange={setStatus} tabs={[{ id: "pending", label: "Pending" }, { id: "approved", label: "Approved" }, { id: "rejected", label: "Rejected" }]} />
      {projectId && status === "pending" && releases.data?.items.length ? (
        <section className="stack" aria-label="Releases waiting for approval" style={{ marginBottom: 16 }}>
          {releases.data.items.map((r) =>
            r.stages
              .filter((st) => st.state === "awaiting_approval")
              .map((st) => (
                <article key={`${r.id}-${st.id}`} className="card" aria-label={`${r.modelVersion.modelName} v${r.modelVersion.version} to ${st.environment.name}`} data-release-approval={st.environment.name}>
                  <div className="card-head">
                    <h2 style={{ margin: 0 }}>
                      {r.modelVersion.modelName} v{r.modelVersion.version} → {st.environment.name}
                    </h2>
                    <Badge tone="amber">{st.approvals.received} of {st.approvals.required} approvals</Badge>
                  </div>
                  <ReleaseMatrix releases={[{ ...r, stages: [st] }]} fetchedAt={releases.data!.fetchedAt} />
                  <ReleaseApprovalEvidence release={r} stage={st} />
                </article>
              )),
          )}
        </section>
      ) : null}
      {!projectId ? (
        <Empty title="No project selected" />
      ) : (
        <QueryView query={query} isEmpty={(d) => d.length === 0} empty={status === "pending" && releases.data?.items.length ? <></> : <Empty title={status === "pending" ? "Inbox zero" : `Nothing ${status}`}>{status === "pending" ? "No release is waiting for approval." : null}</Empty>}>
          {(approvals) => (
            <div className="stack">
              {approvals.map((a) => {
                const own = Boolean(me && a.requestedById === me.user.id);
                const href = subjectHref(a);
                return (
                  <article key={a.id} className="card" aria-label={a.summary} data-approval={a.id}>
                    <div className="card-head">
                      <h2 className="row" style={{ margin: 0 }}>
                        {a.summary} <StatusBadge status={a.status} />
                      </h2>
                      {directory.environmentName(a.environmentId) ? <Badge tone="amber">{directory.environmentName(a.environmentId)}</Badge> : null}
                    </div>
                    <div className="muted small">
                      Requested by {who(a.requestedById)} {formatRelative(a.createdAt)} · {a.subjectType.replace("_", " ")} {href ? <Link href={href}>open</Link> : null}
                    </div>
                    {a.status !== "pending" ? (
                      <div className="small" style={{ marginTop: 6 }}>
                        {a.status === "approved" ? "Approved" : "Rejected"} by {who(a.decidedById)} at {formatTime(a.decidedAt)}
                        {a.comment ? `: “${a.comment}”` : ""}
                      </div>
                    ) : (
                      <div className="row" style={{ marginTop: 10 }}>
                        {can("approver") && !own ? (
                          <>
                            <button type="button" className="btn btn-primary" onClick={() => setDeciding({ approval: a, verdict: "approve" })}>
                              Approve
                            </button>
                            <button type="button" className="btn" onClick={() => setDeciding({ approval: a, verdict: "reject" })}>
                              Reject
                            </button>
                          </>
                        ) : (
                          <span className="muted small">{own ? "You requested this release; another approver must decide." : "Approvers decide on releases."}</span>
                        )}
                      </div>
                    )}
                  </article>
                );
              })}
            </div>
          )}
        </QueryView>
      )}
      {deciding && (
        <ConfirmDialog
          title={`${deciding.verdict === "approve" ? "Approve" : "Reject"}: ${deciding.approval.summary}`}
          confirmLabel={deciding.verdict === "approve" ? "Approve release" : "Reject release"}
          danger={deciding.verdict === "reject"}
          withReason={{ label: deciding.verdict === "reject" ? "Comment (required)" : "Comment (optional)", required: deciding.verdict === "reject" }}
          onConfirm={(comment) => decide.mutateAsync({ id: deciding.approval.id, verdict: deciding.verdict, comment })}
          onClose={() => setDeciding(null)}
        >
          {deciding.verdict === "approve" ? "The deployment proceeds as soon as you approve." : "The deployment is stopped; the requester sees your comment."}
        </ConfirmDialog>
      )}
    </>
  );
}
