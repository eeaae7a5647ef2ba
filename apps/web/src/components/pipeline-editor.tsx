"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useMemo, useState } from "react";
import { ApiError, api, type TFieldIssue } from "@/lib/client/api";
import { formatSpec, getAtPath, issuesFor, parseSpecText, setAtPath, setInText, type TSpecFormat } from "@/lib/client/spec-text";
import type { TPipeline } from "@/lib/client/types";
import { useDebouncedValue } from "@/hooks/use-debounced-value";
import { CheckField, ListField, NumberField, SelectField, TextField } from "./fields";
import { Badge } from "./ui";

const EVAL_METRICS = ["rouge_l", "bleu", "exact_match", "accuracy", "f1", "safety"];
const THRESHOLD_METRICS = ["rouge_l", "bleu", "exact_match", "accuracy", "f1", "safety_pass_rate", "refusal_rate", "human_review_pass_rate"];

export const NEW_PIPELINE_SPEC = {
  apiVersion: "loraplane/v1",
  name: "support-assistant",
  model: { name: "support-assistant", baseModel: "/models/Qwen2.5-7B-Instruct" },
  dataset: { name: "support-tickets", version: "v1", format: "auto" },
  training: { learningRate: 0.0002, epochs: 3, batchSize: 8, maxSeqLength: 1024, lora: { r: 16, alpha: 32, dropout: 0.05 } },
  resources: { gpus: 1 },
  eval: {
    metrics: ["rouge_l", "bleu", "exact_match", "f1", "safety"],
    thresholds: [
      { metric: "rouge_l", comparator: ">=", value: 0.45, blocking: true },
      { metric: "safety_pass_rate", comparator: ">=", value: 0.99, blocking: true },
    ],
  },
  deploy: { endpointName: "support-assistant", environments: ["staging", "prod"], strategy: "canary" },
};

interface TValidateResponse {
  valid?: boolean;
  ok?: boolean;
  issues?: TFieldIssue[];
}

interface TThresholdRow {
  metric?: string;
  comparator?: string;
  value?: unknown;
  blocking?: boolean;
}

export function PipelineEditor({ projectId, pipeline }: { projectId: string; pipeline?: TPipeline }) {
  const router = useRouter();
  const queryClient = useQueryClient();
  // The text the user saved (key order, comments) when there is one; otherwise the spec written out as YAML.
  const [format, setFormat] = useState<TSpecFormat>(() => (pipeline?.specText?.trimStart().startsWith("{") ? "json" : "yaml"));
  const [text, setText] = useState(() => pipeline?.specText ?? formatSpec(pipeline?.spec ?? NEW_PIPELINE_SPEC, "yaml"));
  const [gitRepo, setGitRepo] = useState(pipeline?.gitRepo ?? "");
  const [gitBranches, setGitBranches] = useState<string[]>(pipeline?.gitBranches ?? []);
  const parsed = useMemo(() => parseSpecText(text, format), [text, format]);
  const [lastGood, setLastGood] = useState<unknown>(parsed.value);
  const spec = parsed.error ? lastGood : parsed.value;
  if (!parsed.error && parsed.value !== lastGood) setLastGood(parsed.value);

  const debouncedSpec = useDebouncedValue(parsed.error ? null : JSON.stringify(parsed.value), 300);
  const validation = useQuery<TValidateResponse>({
    queryKey: ["validate", projectId, debouncedSpec],
    enabled: debouncedSpec !== null,
    placeholderData: (previous) => previous,
    queryFn: async ({ signal }) => {
      try {
        return await api<TValidateResponse>("/api/v1/pipelines/validate", { method: "POST", body: { spec: JSON.parse(debouncedSpec!) }, signal });
      } catch (error) {
        // Invalid specs may come back as a 400 carrying the same issue list.
        if (error instanceof ApiError && error.status === 400 && error.issues.length) return { valid: false, issues: error.issues };
        throw error;
      }
    },
  });
  const issues = validation.data?.issues ?? [];
  const valid = !parsed.error && validation.data !== undefined && !issues.length && (validation.data.valid ?? validation.data.ok ?? true);
  const err = (path: string) => issuesFor(issues, path).map((i) => (i.path === path ? i.message : `${i.path.slice(path.length + 1)}: ${i.message}`));

  const datasets = useQuery({
    queryKey: ["datasets", projectId],
    queryFn: () => api<{ items: { id: string; name: string }[] }>(`/api/v1/projects/${projectId}/datasets`),
    select: (d) => d.items,
  });
  const environments = useQuery({
    queryKey: ["environments", projectId],
    queryFn: () => api<{ items: { name: string }[] }>(`/api/v1/projects/${projectId}/environments`),
    select: (d) => d.items,
  });

  function update(path: string, value: unknown) {
    // Edit the text in place so the rest of what the user wrote stays as written; a text that does not parse is
    // rebuilt from the last good spec.
    setText(parsed.error ? formatSpec(setAtPath(spec, path, value), format) : setInText(text, format, path, value));
  }
  function switchFormat(next: TSpecFormat) {
    if (next === format) return;
    if (parsed.error) return;
    setText(formatSpec(parsed.value, next));
    setFormat(next);
  }
  const at = (path: string) => getAtPath(spec, path);
  const str = (path: string) => {
    const v = at(path);
    return v === undefined || v === null ? undefined : String(v);
  };

  const selectedDatasetId = datasets.data?.find((d) => d.name === str("dataset.name"))?.id;
  const datasetVersions = useQuery({
    queryKey: ["dataset-versions", selectedDatasetId],
    enabled: Boolean(selectedDatasetId),
    queryFn: () => api<{ items: { id: string; version: string }[] }>(`/api/v1/datasets/${selectedDatasetId}/versions`),
    select: (d) => d.items,
  });

  const save = useMutation({
    mutationFn: () => {
      // The server parses specText into the spec and keeps the text beside it.
      const body = { description: str("description"), specText: text, gitRepo: gitRepo.trim() || null, gitBranches };
      return pipeline
        ? api<TPipeline>(`/api/v1/pipelines/${pipeline.id}`, { method: "PATCH", body })
        : api<TPipeline>(`/api/v1/projects/${projectId}/pipelines`, { method: "POST", body });
    },
    onSuccess: async (saved) => {
      await queryClient.invalidateQueries({ queryKey: ["pipelines"] });
      await queryClient.invalidateQueries({ queryKey: ["pipeline", saved.id] });
      router.push(`/pipelines/${saved.id}`);
    },
  });
  const saveIssues = save.error instanceof ApiError ? save.error.issues : [];

  const thresholds = (Array.isArray(at("eval.thresholds")) ? at("eval.thresholds") : []) as TThresholdRow[];
  const metrics = (Array.isArray(at("eval.metrics")) ? at("eval.metrics") : []) as string[];
  const deploy = at("deploy");
  const datasetName = str("dataset.name");

  return (
    <form
      className="grid grid-2"
      style={{ alignItems: "start" }}
      onSubmit={(e) => {
        e.preventDefault();
        save.mutate();
      }}
    >
      <div className="stack">
        <fieldset>
          <legend>Pipeline</legend>
          <div className="form-grid">
            <TextField label="Name" value={str("name")} onChange={(v) => update("name", v)} errors={err("name")} />
            <TextField label="Description" value={str("description")} onChange={(v) => update("description", v)} errors={err("description")} />
          </div>
        </fieldset>
        <fieldset>
          <legend>Model and data</legend>
          <div className="form-grid">
            <TextField label="Model name" value={str("model.name")} onChange={(v) => update("model.name", v)} errors={err("model.name")} hint="Registry name for the versions this pipeline produces" />
            <TextField label="Base model" value={str("model.baseModel")} onChange={(v) => update("model.baseModel", v)} errors={err("model.baseModel")} hint="Local path or volume" />
            <TextField label="Dataset" list="dataset-names" value={datasetName} onChange={(v) => update("dataset.name", v)} errors={err("dataset.name")} />
            <TextField label="Dataset version" list="dataset-versions" value={str("dataset.version")} onChange={(v) => update("dataset.version", v)} errors={err("dataset.version")} />
          </div>
          <datalist id="dataset-names">{datasets.data?.map((d) => <option key={d.id} value={d.name} />)}</datalist>
          <datalist id="dataset-versions">{datasetVersions.data?.map((v) => <option key={v.id} value={v.version} />)}</datalist>
        </fieldset>
        <fieldset>
          <legend>Training (LoRA)</legend>
          <div className="form-grid">
            <NumberField label="Learning rate" value={at("training.learningRate")} onChange={(v) => update("training.learningRate", v)} errors={err("training.learningRate")} placeholder="0.0002" />
            <NumberField label="Epochs" value={at("training.epochs")} onChange={(v) => update("training.epochs", v)} errors={err("training.epochs")} />
            <NumberField label="Max steps" value={at("training.maxSteps")} onChange={(v) => update("training.maxSteps", v)} errors={err("training.maxSteps")} hint="Overrides epochs" />
            <NumberField label="Batch size" value={at("training.batchSize")} onChange={(v) => update("training.batchSize", v)} errors={err("training.batchSize")} placeholder="8" />
            <NumberField label="LoRA r" value={at("training.lora.r")} onChange={(v) => update("training.lora.r", v)} errors={err("training.lora.r")} placeholder="16" />
            <NumberField label="LoRA alpha" value={at("training.lora.alpha")} onChange={(v) => update("training.lora.alpha", v)} errors={err("training.lora.alpha")} placeholder="32" />
            <NumberField label="LoRA dropout" value={at("training.lora.dropout")} onChange={(v) => update("training.lora.dropout", v)} errors={err("training.lora.dropout")} placeholder="0.05" />
            <NumberField label="Max sequence length" value={at("training.maxSeqLength")} onChange={(v) => update("training.maxSeqLength", v)} errors={err("training.maxSeqLength")} placeholder="1024" />
            <NumberField label="GPUs" value={at("resources.gpus")} onChange={(v) => update("resources.gpus", v)} errors={err("resources.gpus")} placeholder="1" />
          </div>
        </fieldset>
        <fieldset>
          <legend>Evaluation gate</legend>
          <div className="row" role="group" aria-label="Metrics to compute" style={{ marginBottom: 8 }}>
            {EVAL_METRICS.map((m) => (
              <CheckField key={m} label={m} checked={metrics.includes(m)} onChange={(on) => update("eval.metrics", on ? [...metrics, m] : metrics.filter((x) => x !== m))} />
            ))}
          </div>
          {err("eval.metrics").length ? <div className="err small">{err("eval.metrics").join("; ")}</div> : null}
          <div className="stack" style={{ gap: 6 }}>
            {thresholds.map((t, i) => (
              <div key={i} className="form-grid" style={{ gridTemplateColumns: "minmax(120px,2fr) 70px minmax(70px,1fr) auto auto", alignItems: "end" }}>
                <SelectField label={`Threshold ${i + 1} metric`} value={t.metric} onChange={(v) => update(`eval.thresholds.${i}.metric`, v)} errors={err(`eval.thresholds[${i}].metric`)} options={THRESHOLD_METRICS.map((m) => ({ value: m, label: m }))} />
                <SelectField label="Op" value={t.comparator ?? ">="} onChange={(v) => update(`eval.thresholds.${i}.comparator`, v)} options={[">=", ">", "<=", "<"].map((c) => ({ value: c, label: c }))} />
                <NumberField label="Value" value={t.value} onChange={(v) => update(`eval.thresholds.${i}.value`, v)} errors={err(`eval.thresholds[${i}].value`)} />
                <CheckField label="Blocking" checked={t.blocking ?? true} onChange={(v) => update(`eval.thresholds.${i}.blocking`, v)} />
                <button type="button" className="btn btn-sm btn-ghost" aria-label={`Remove threshold ${i + 1}`} onClick={() => update("eval.thresholds", thresholds.filter((_, j) => j !== i))}>
                  ✕
                </button>
              </div>
            ))}
            <div>
              <button type="button" className="btn btn-sm" onClick={() => update("eval.thresholds", [...thresholds, { metric: "rouge_l", comparator: ">=", value: 0.45, blocking: true }])}>
                Add threshold
              </button>
            </div>
          </div>
        </fieldset>
        <fieldset>
          <legend>Deployment</legend>
          <CheckField label="Deploy versions that pass the gate" checked={Boolean(deploy)} onChange={(on) => update("deploy", on ? { endpointName: str("model.name") ?? "endpoint", environments: ["staging"], strategy: "canary" } : null)} />
          {deploy ? (
            <div className="form-grid" style={{ marginTop: 8 }}>
              <TextField label="Endpoint" value={str("deploy.endpointName")} onChange={(v) => update("deploy.endpointName", v)} errors={err("deploy.endpointName")} />
              <ListField label="Environments, in order" value={at("deploy.environments")} onChange={(v) => update("deploy.environments", v)} errors={err("deploy.environments")} hint={environments.data?.length ? `Known: ${environments.data.map((e) => e.name).join(", ")}` : undefined} />
              <SelectField label="Strategy" value={str("deploy.strategy") ?? "canary"} onChange={(v) => update("deploy.strategy", v)} options={[{ value: "canary", label: "Canary" }, { value: "blue_green", label: "Blue-green" }, { value: "ab", label: "A/B" }]} />
              <ListField numeric label="Canary steps (bps)" value={at("deploy.canary.steps")} onChange={(v) => update("deploy.canary.steps", v)} errors={err("deploy.canary.steps")} hint="e.g. 500, 2500, 5000, 10000" />
              <NumberField label="SLO p99 latency (ms)" value={at("deploy.slo.p99LatencyMs")} onChange={(v) => update("deploy.slo.p99LatencyMs", v)} errors={err("deploy.slo.p99LatencyMs")} placeholder="2000" />
              <NumberField label="SLO max error rate" value={at("deploy.slo.maxErrorRate")} onChange={(v) => update("deploy.slo.maxErrorRate", v)} errors={err("deploy.slo.maxErrorRate")} placeholder="0.01" />
            </div>
          ) : null}
        </fieldset>
        <fieldset>
          <legend>Git trigger</legend>
          <div className="form-grid">
            <div className="field">
              <label htmlFor="git-repo">Repository</label>
              <input id="git-repo" className="input" value={gitRepo} onChange={(e) => setGitRepo(e.target.value)} placeholder="group/project" />
            </div>
            <ListField label="Branches that trigger a run" value={gitBranches} onChange={(v) => setGitBranches((v ?? []).map(String))} errors={saveIssues.filter((i) => i.path.startsWith("gitBranches")).map((i) => i.message)} hint="Empty: pushes never trigger" />
          </div>
        </fieldset>
      </div>

      <div className="stack" style={{ position: "sticky", top: 12 }}>
        <div className="card">
          <div className="card-head">
            <h2>Spec</h2>
            <div className="row" role="group" aria-label="Spec format">
              <button type="button" className={`btn btn-sm ${format === "yaml" ? "btn-primary" : ""}`} aria-pressed={format === "yaml"} onClick={() => switchFormat("yaml")} disabled={Boolean(parsed.error)}>
                YAML
              </button>
              <button type="button" className={`btn btn-sm ${format === "json" ? "btn-primary" : ""}`} aria-pressed={format === "json"} onClick={() => switchFormat("json")} disabled={Boolean(parsed.error)}>
                JSON
              </button>
            </div>
          </div>
          <label htmlFor="spec-editor" className="muted small">
            Edit the spec directly; the form follows.
          </label>
          <textarea
            id="spec-editor"
            className="input editor"
            spellCheck={false}
            value={text}
            aria-invalid={parsed.error ? true : undefined}
            onChange={(e) => setText(e.target.value)}
            onKeyDown={(e) => {
              // Tab indents inside the editor; Escape then Tab leaves it, so keyboard users are never trapped.
              if (e.key === "Tab" && !e.shiftKey && e.currentTarget.dataset.escaped !== "1") {
                e.preventDefault();
                const el = e.currentTarget;
                const { selectionStart: s, selectionEnd: end } = el;
                const next = `${text.slice(0, s)}  ${text.slice(end)}`;
                setText(next);
                requestAnimationFrame(() => el.setSelectionRange(s + 2, s + 2));
              }
              e.currentTarget.dataset.escaped = e.key === "Escape" ? "1" : "0";
            }}
            rows={24}
          />
          <div className="small muted" style={{ marginTop: 4 }}>
            Tab indents; press Esc then Tab to leave the editor.
          </div>
        </div>
        <div className="card" aria-live="polite">
          <div className="card-head">
            <h2>Validation</h2>
            {parsed.error ? <Badge tone="red">syntax error</Badge> : validation.isFetching ? <Badge tone="blue">checking…</Badge> : valid ? <Badge tone="green">valid</Badge> : issues.length ? <Badge tone="red">{issues.length} issue(s)</Badge> : null}
          </div>
          {parsed.error ? (
            <div className="alert red">
              {format.toUpperCase()} {parsed.error.line ? `line ${parsed.error.line}: ` : ""}
              {parsed.error.message}
            </div>
          ) : validation.error ? (
            <div className="alert amber">Could not validate: {(validation.error as Error).message}</div>
          ) : issues.length ? (
            <ul style={{ margin: 0, paddingLeft: 18 }} data-testid="spec-issues">
              {issues.map((issue, i) => (
                <li key={i}>
                  <code>{issue.path || "(spec)"}</code> {issue.message}
                </li>
              ))}
            </ul>
          ) : valid ? (
            <span className="muted">The spec is valid.</span>
          ) : (
            <span className="muted">Checking…</span>
          )}
        </div>
        {save.error ? (
          <div className="alert red" role="alert">
            {(save.error as Error).message}
            {saveIssues.length ? (
              <ul style={{ margin: "4px 0 0", paddingLeft: 18 }}>
                {saveIssues.map((i, k) => (
                  <li key={k}>
                    <code>{i.path}</code> {i.message}
                  </li>
                ))}
              </ul>
            ) : null}
          </div>
        ) : null}
        <div className="row" style={{ justifyContent: "flex-end" }}>
          <button type="button" className="btn" onClick={() => router.back()}>
            Cancel
          </button>
          {!valid && !save.isPending ? <span className="muted small">{parsed.error || issues.length ? "Fix the spec to save." : "Checking the spec…"}</span> : null}
          <button type="submit" className="btn btn-primary" disabled={!valid || save.isPending}>
            {save.isPending ? "Saving…" : pipeline ? "Save changes" : "Create pipeline"}
          </button>
        </div>
      </div>
    </form>
  );
}
