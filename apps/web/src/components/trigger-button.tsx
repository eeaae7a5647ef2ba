"use client";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useRef } from "react";
import { api, errorMessage, newIdempotencyKey } from "@/lib/client/api";

export function TriggerButton({ pipelineId, disabled }: { pipelineId: string; disabled?: boolean }) {
  const router = useRouter();
  const queryClient = useQueryClient();
  // One key per click-intent: a retry of the same request (or a double click) reuses it, so at most one run starts.
  const key = useRef<string | null>(null);
  const trigger = useMutation({
    mutationFn: () => {
      key.current ??= newIdempotencyKey();
      return api<{ run: { id: string }; created: boolean }>(`/api/v1/pipelines/${pipelineId}/runs`, { method: "POST", body: {}, headers: { "idempotency-key": key.current } });
    },
    onSuccess: async (data) => {
      key.current = null;
      await queryClient.invalidateQueries({ queryKey: ["runs"] });
      router.push(`/runs/${data.run.id}`);
    },
  });
  return (
    <span className="row">
      <button type="button" className="btn btn-primary" onClick={() => trigger.mutate()} disabled={disabled || trigger.isPending}>
        {trigger.isPending ? "Triggering…" : "Trigger run"}
      </button>
      {trigger.error ? (
        <span className="err small" role="alert" style={{ color: "var(--red)" }}>
          {errorMessage(trigger.error)}
        </span>
      ) : null}
    </span>
  );
}
