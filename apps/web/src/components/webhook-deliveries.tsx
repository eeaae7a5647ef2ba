"use client";
// A subscription's delivery log (newest first, the last attempt's request and response excerpts, signatures elided by
// the server) with Redeliver for finished deliveries: the server refuses a delivery that is still queued (409), so the
// button is offered only for succeeded and failed ones.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Fragment, useState } from "react";
import { api, errorMessage } from "@/lib/client/api";
import { formatRelative } from "@/lib/client/format";
import type { TPage, TWebhookDelivery } from "@/lib/client/types";
import { DataTable } from "./data-table";
import { Empty, QueryView, StatusBadge } from "./ui";

export function WebhookDeliveries({ webhookId, canRedeliver }: { webhookId: string; canRedeliver: boolean }) {
  const queryClient = useQueryClient();
  const [shown, setShown] = useState<string | null>(null);
  const key = ["webhook-deliveries", webhookId];
  const query = useQuery({
    queryKey: key,
    queryFn: () => api<TPage<TWebhookDelivery>>(`/api/v1/webhooks/${webhookId}/deliveries?limit=20`),
    // Pending deliveries change on their own (the worker retries them); finished ones do not.
    refetchInterval: (q) => (q.state.data?.items.some((d) => d.status === "pending") ? 3000 : false),
  });
  const redeliver = useMutation({
    mutationFn: (id: string) => api(`/api/v1/webhook-deliveries/${id}/redeliver`, { method: "POST", body: {} }),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: key }),
  });
  return (
    <div className="stack" aria-label="Deliveries">
      {redeliver.error ? (
        <div className="alert red" role="alert">
          {errorMessage(redeliver.error)}
        </div>
      ) : null}
      <QueryView query={query} isEmpty={(d) => d.items.length === 0} empty={<Empty title="No deliveries yet" />}>
        {(d) => (
          <DataTable columns={["Event", "Status", { label: "Attempts", className: "hide-sm" }, "Last answer", { label: "When", className: "hide-sm" }, ""]}>
            {d.items.map((delivery) => (
              <Fragment key={delivery.id}>
                <tr data-delivery={delivery.id}>
                  <td className="small">
                    <button type="button" className="btn btn-sm btn-ghost" onClick={() => setShown(shown === delivery.id ? null : delivery.id)} aria-expanded={shown === delivery.id}>
                      {delivery.event}
                    </button>
                  </td>
                  <td>
                    <StatusBadge status={delivery.status} />
                  </td>
                  <td className="small hide-sm">{delivery.attempts}</td>
                  <td className="small">
                    {delivery.lastStatusCode !== null ? `HTTP ${delivery.lastStatusCode}` : (delivery.lastError ?? "—")}
                    {delivery.lastDurationMs !== null ? <span className="muted"> · {delivery.lastDurationMs} ms</span> : null}
                  </td>
                  <td className="small hide-sm">{formatRelative(delivery.lastAttemptAt ?? delivery.createdAt)}</td>
                  <td className="right">
                    {canRedeliver && delivery.status !== "pending" ? (
                      <button type="button" className="btn btn-sm" disabled={redeliver.isPending} onClick={() => redeliver.mutate(delivery.id)}>
                        Redeliver
                      </button>
                    ) : null}
                  </td>
                </tr>
                {shown === delivery.id ? (
                  <tr data-delivery-detail={delivery.id}>
                    <td colSpan={6}>
                      <div className="stack small" style={{ gap: 4 }}>
                        <div className="muted">webhook-id {delivery.eventId}</div>
                        <pre className="mono" style={{ whiteSpace: "pre-wrap", overflowWrap: "anywhere", margin: 0 }}>{delivery.lastRequest ?? "no request sent yet"}</pre>
                        <pre className="mono" style={{ whiteSpace: "pre-wrap", overflowWrap: "anywhere", margin: 0 }}>{delivery.lastResponse ?? delivery.lastError ?? "no answer"}</pre>
                      </div>
                    </td>
                  </tr>
                ) : null}
              </Fragment>
            ))}
          </DataTable>
        )}
      </QueryView>
    </div>
  );
}
