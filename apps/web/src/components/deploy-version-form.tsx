"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { ApiError, api, errorMessage } from "@/lib/client/api";
import type { TEnvironment } from "@/lib/client/types";
import { ConfirmDialog } from "./confirm-dialog";

const ENDPOINT = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

/** Manual deploy of one model version: the same rollout (and approval, for gated environments) a pipeline starts. */
export function DeployVersionForm({ projectId, modelVersionId, label, defaultEndpoint }: { projectId: string; modelVersionId: string; label: string; defaultEndpoint: string }) {
  const router = useRouter();
  const queryClient = useQueryClient();
  const environments = useQuery({
    queryKey: ["environments", projectId],
    queryFn: () => api<{ items: TEnvironment[] }>(`/api/v1/projects/${projectId}/environments`),
    select: (d) => d.items,
  });
  const [environmentId, setEnvironmentId] = useState("");
  const [endpointName, setEndpointName] = useState(defaultEndpoint.toLowerCase().replace(/[^a-z0-9-]/g, "-"));
  const [strategy, setStrategy] = useState("canary");
  const [confirming, setConfirming] = useState(false);
  const env = environments.data?.find((e) => e.id === environmentId) ?? environments.data?.[0];
  const deploy = useMutation({
    mutationFn: () => api<{ deploymentId: string; state: string }>("/api/v1/deployments", { method: "POST", body: { projectId, modelVersionId, environmentId: env?.id, endpointName, strategy } }),
    onSuccess: async (data) => {
      await queryClient.invalidateQueries({ queryKey: ["deployments"] });
      router.push(`/deployments/${data.deploymentId}`);
    },
  });
  const endpointValid = ENDPOINT.test(endpointName) && endpointName.length <= 63;
  const endpointIssue = deploy.error instanceof ApiError ? deploy.error.issues.find((i) => i.path.includes("endpointName"))?.message : undefined;
  return (
    <form
      className="stack"
      style={{ gap: 8 }}
      onSubmit={(e) => {
        e.preventDefault();
        setConfirming(true);
      }}
    >
      <div className="form-grid">
        <div className="field">
          <label htmlFor="deploy-env">Environment</label>
          <select id="deploy-env" className="input" value={env?.id ?? ""} onChange={(e) => setEnvironmentId(e.target.value)} disabled={!environments.data?.length}>
            {environments.data?.map((e) => (
              <option key={e.id} value={e.id}>
                {e.name}
                {e.requiresApproval ? " (approval)" : ""}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="deploy-endpoint">Endpoint</label>
          <input id="deploy-endpoint" className="input" value={endpointName} onChange={(e) => setEndpointName(e.target.value.trim())} aria-invalid={!endpointValid || Boolean(endpointIssue)} />
          {!endpointValid ? <span className="err">lower-case letters, digits and '-'</span> : endpointIssue ? <span className="err">{endpointIssue}</span> : null}
        </div>
        <div className="field">
          <label htmlFor="deploy-strategy">Strategy</label>
          <select id="deploy-strategy" className="input" value={strategy} onChange={(e) => setStrategy(e.target.value)}>
            <option value="canary">Canary</option>
            <option value="blue_green">Blue-green</option>
            <option value="ab">A/B</option>
          </select>
        </div>
      </div>
      <div>
        <button type="submit" className="btn btn-primary" disabled={!env || !endpointValid || deploy.isPending}>
          Deploy…
        </button>
      </div>
      {confirming && env ? (
        <ConfirmDialog title={`Deploy ${label} to ${env.name}/${endpointName}?`} confirmLabel="Deploy" onConfirm={() => deploy.mutateAsync()} onClose={() => setConfirming(false)}>
          {env.requiresApproval ? `${env.name} requires approval: the rollout starts once an approver accepts it.` : "The rollout starts right away, following the deployment policy."}
        </ConfirmDialog>
      ) : null}
      {deploy.error && !confirming ? <div className="alert red">{errorMessage(deploy.error)}</div> : null}
    </form>
  );
}
