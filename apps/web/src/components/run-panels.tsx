"use client";
import { useInfiniteQuery, useMutation, useQuery, useQueryClient, type InfiniteData } from "@tanstack/react-query";
import { useEffect, useMemo, useRef, useState } from "react";
import { api, errorMessage, qs } from "@/lib/client/api";
import { durationBetween, formatBytes, formatDuration, formatNumber, formatTime } from "@/lib/client/format";
import type { TArtifact, TEval, TMetricSeries, TPage, TRun, TSample, TStage } from "@/lib/client/types";
import { useNow } from "@/hooks/use-now";
import { parseChatPrompt, stripSpecialTokens, terminalLines } from "@/lib/client/chat";
import { MetricChart } from "./metric-chart";
import { DataTable } from "./data-table";
import { Badge, Empty, ErrorState, Loading, Progress, QueryView, StatusBadge } from "./ui";

export const STAGE_ORDER = ["prepare", "train", "eval", "gate", "register", "approve", "deploy", "rollout"];
export const RUN_ACTIVE = new Set(["queued", "running", "waiting_approval", "awaiting_review"]);

/** Latest attempt of each stage, in pipeline order. */
export function latestStages(stages: TStage[]): TStage[] {
  const byStage = new Map<string, TStage>();
  for (const stage of stages) {
    const seen = byStage.get(stage.stage);
    if (!seen || stage.attempt > seen.attempt) byStage.set(stage.stage, stage);
  }
  return [...byStage.values()].sort((a, b) => STAGE_ORDER.indexOf(a.stage) - STAGE_ORDER.indexOf(b.stage));
}

/** The stages a run goes through: without a deploy section it ends at register. */
export function plannedStages(resolvedSpec: unknown): string[] {
  const deploy = resolvedSpec && typeof resolvedSpec === "object" ? (resolvedSpec as { deploy?: unknown }).deploy : null;
  return deploy ? STAGE_ORDER : STAGE_ORDER.slice(0, STAGE_ORDER.indexOf("register") + 1);
}

export function StageTimeline({ stages, planned }: { stages: TStage[]; planned: string[] }) {
  const now = useNow(1000);
  const latest = latestStages(stages);
  // Stages not reached yet are shown as pending, so the timeline visibly fills in from left to right.
  const shown: TStage[] = [...latest, ...planned.filter((name) => !latest.some((s) => s.stage === name)).map((name) => ({ stage: name, status: "pending" as const, attempt: 1 }))].sort(
    (a, b) => STAGE_ORDER.indexOf(a.stage) - STAGE_ORDER.indexOf(b.stage),
  );
  return (
    <ol className="timeline" aria-label="Stage timeline" style={{ listStyle: "none", padding: 0, margin: 0 }}>
      {shown.map((stage) => (
        <li key={stage.stage} className="stage" data-status={stage.status} data-stage={stage.stage}>
          <div className="row" style={{ justifyContent: "space-between" }}>
            <span className="name">{stage.stage}</span>
            {stage.attempt > 1 && <Badge>try {stage.attempt}</Badge>}
          </div>
          <StatusBadge status={stage.status} />
          <div className="dur">{stage.startedAt ? formatDuration(durationBetween(stage.startedAt, stage.finishedAt, now)) : "—"}</div>
          {typeof stage.resumedFromStep === "number" ? <div className="small muted">resumed from step {stage.resumedFromStep}</div> : null}
          {stage.error ? (
            <div className={`small stage-error ${stage.status === "cancelled" ? "muted" : ""}`} title={stage.error}>
              {stage.error}
            </div>
          ) : null}
          {stage.status === "running" && typeof stage.progress === "number" ? <div className="bar" style={{ width: `${Math.min(1, stage.progress) * 100}%` }} /> : null}
        </li>
      ))}
    </ol>
  );
}

export function TrainingProgress({ stage }: { stage: TStage }) {
  const progress = stage.progress ?? (stage.step && stage.totalSteps ? stage.step / stage.totalSteps : 0);
  return (
    <div className="card" aria-live="polite">
      <div className="card-head">
        <h2>Training</h2>
        <span className="muted small">
          {stage.step ?? 0} / {stage.totalSteps ?? "?"} steps · {Math.round(progress * 100)}%{stage.etaSeconds !== null && stage.etaSeconds !== undefined ? ` · ETA ${formatDuration(stage.etaSeconds)}` : ""}
        </span>
      </div>
      <Progress value={progress} label="Training progress" />
    </div>
  );
}

/** How long training runs: "1,500 steps" when maxSteps is set (it overrides epochs), else "3 epochs". */
export function trainingLength(spec: unknown): string {
  const training = (spec && typeof spec === "object" ? (spec as { training?: Record<string, unknown> }).training : undefined) ?? {};
  if (typeof training.maxSteps === "number" && training.maxSteps > 0) return `${training.maxSteps.toLocaleString()} steps`;
  if (typeof training.epochs === "number") return `${training.epochs} epoch${training.epochs === 1 ? "" : "s"}`;
  return "—";
}

function settingAt(spec: unknown, path: string): unknown {
  return path.split(".").reduce<unknown>((node, key) => (node && typeof node === "object" ? (node as Record<string, unknown>)[key] : undefined), spec);
}

/** The parameter overrides a run was triggered with (sweeps, `run trigger --param`), and what training it ran. */
export function RunParams({ params, resolvedSpec }: { params: unknown; resolvedSpec: unknown }) {
  const overrides = params && typeof params === "object" ? Object.entries(params as Record<string, unknown>) : [];
  const shown = [
    ["length", trainingLength(resolvedSpec)],
    ["learning rate", settingAt(resolvedSpec, "training.learningRate")],
    ["batch size", settingAt(resolvedSpec, "training.batchSize")],
    ["LoRA r / alpha", [settingAt(resolvedSpec, "training.lora.r"), settingAt(resolvedSpec, "training.lora.alpha")].filter((v) => v !== undefined).join(" / ") || undefined],
    ["dataset", [settingAt(resolvedSpec, "dataset.name"), settingAt(resolvedSpec, "dataset.version")].filter(Boolean).join("@") || undefined],
  ].filter(([, v]) => v !== undefined && v !== null && v !== "");
  return (
    <div className="card" aria-label="Parameters">
      <div className="card-head">
        <h2>Parameters</h2>
        <span className="muted small">{overrides.length ? `${overrides.length} override${overrides.length === 1 ? "" : "s"} of the pipeline spec` : "as in the pipeline spec"}</span>
      </div>
      {overrides.length ? (
        <dl className="kv-inline" data-testid="run-params" style={{ marginBottom: 6 }}>
          {overrides.map(([k, v]) => (
            <div key={k}>
              <dt className="mono">{k}</dt>
              <dd>
                <strong>{typeof v === "string" ? v : JSON.stringify(v)}</strong>
              </dd>
            </div>
          ))}
        </dl>
      ) : null}
      <dl className="kv-inline small">
        {shown.map(([k, v]) => (
          <div key={String(k)}>
            <dt>{String(k)}</dt>
            <dd>{String(v)}</dd>
          </div>
        ))}
      </dl>
    </div>
  );
}

const TRAIN_KEYS = ["train/loss", "eval/loss", "train/learning_rate", "train/tokens_per_second"];

export function RunCharts({ runId, live }: { runId: string; live: boolean }) {
  const query = useQuery({
    queryKey: ["run-metrics", runId],
    queryFn: () => api<{ series: TMetricSeries[] }>(`/api/v1/runs/${runId}/metrics${qs({ keys: TRAIN_KEYS.join(","), maxPoints: 1000 })}`),
    refetchInterval: live ? 3000 : false,
  });
  const byKey = useMemo(() => new Map((query.data?.series ?? []).map((s) => [s.key, s])), [query.data]);
  const rows = (keys: string[]) => {
    const steps = new Map<number, Record<string, number | null>>();
    for (const key of keys) {
      for (const p of byKey.get(key)?.points ?? []) {
        const row = steps.get(p.step) ?? { step: p.step };
        row[key] = p.value;
        steps.set(p.step, row);
      }
    }
    return [...steps.values()].sort((a, b) => (a.step as number) - (b.step as number));
  };
  const note = (key: string) => {
    const s = byKey.get(key);
    if (!s) return undefined;
    const total = `${s.totalPoints.toLocaleString()} point${s.totalPoints === 1 ? "" : "s"}`;
    return s.downsampled ? `${s.points.length} of ${total}` : total;
  };
  if (query.isLoading) return <Loading rows={3} />;
  if (query.error && !query.data) return <ErrorState error={query.error} retry={() => void query.refetch()} />;
  return (
    <div className="grid grid-3">
      <MetricChart
        title="Loss"
        x="step"
        rows={rows(["train/loss", "eval/loss"])}
        lines={[{ key: "train/loss", label: "train" }, ...(byKey.get("eval/loss")?.points.length ? [{ key: "eval/loss", label: "eval", dashed: true }] : [])]}
        note={note("train/loss")}
      />
      <MetricChart title="Learning rate" x="step" rows={rows(["train/learning_rate"])} lines={[{ key: "train/learning_rate", label: "lr", color: "#0891b2" }]} note={note("train/learning_rate")} />
      <MetricChart title="Tokens / s" x="step" rows={rows(["train/tokens_per_second"])} lines={[{ key: "train/tokens_per_second", label: "tokens/s", color: "#d97706" }]} yFormatter={(v) => formatNumber(v, 3)} note={note("train/tokens_per_second")} />
    </div>
  );
}


export function LogsTail({ runId, stages, live }: { runId: string; stages: string[]; live: boolean }) {
  const [stage, setStage] = useState<string>("");
  const [follow, setFollow] = useState(true);
  const ref = useRef<HTMLPreElement>(null);
  const query = useQuery({
    queryKey: ["run-logs", runId, stage],
    queryFn: () => api<{ stage: string | null; attempt: number | null; lines: string[] }>(`/api/v1/runs/${runId}/logs${qs({ stage, tail: 500 })}`),
    refetchInterval: live ? 2500 : false,
  });
  useEffect(() => {
    if (follow && ref.current) ref.current.scrollTop = ref.current.scrollHeight;
  }, [query.data, follow]);
  return (
    <div className="card">
      <div className="card-head">
        <h2>Logs</h2>
        <div className="row">
          <label className="row small">
            Stage
            <select className="input" style={{ width: 120, height: 26 }} value={stage} onChange={(e) => setStage(e.target.value)}>
              <option value="">latest</option>
              {stages.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </label>
          <label className="row small">
            <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> Follow
          </label>
        </div>
      </div>
      <QueryView query={query} isEmpty={(d) => d.lines.length === 0} empty={<Empty title="No log lines yet" />}>
        {(d) => (
          <>
            {d.stage ? (
              <div className="small muted" style={{ marginBottom: 4 }}>
                {d.stage}
                {d.attempt && d.attempt > 1 ? `, attempt ${d.attempt}` : ""}
              </div>
            ) : null}
            <pre ref={ref} className="logs" tabIndex={0} aria-label="Log output">
              {terminalLines(d.lines).join("\n")}
            </pre>
          </>
        )}
      </QueryView>
    </div>
  );
}

export function GateBanner({ gate }: { gate: TEval["gate"] }) {
  if (!gate || gate.passed === null) return <div className="alert blue">Gate not evaluated yet.</div>;
  return gate.passed ? (
    <div className="alert green" data-testid="gate-decision">
      <strong>Gate passed.</strong> {gate.reasons.length ? gate.reasons.join(" ") : "Every blocking threshold was met."}
    </div>
  ) : (
    <div className="alert red" data-testid="gate-decision">
      <strong>Gate blocked.</strong>
      <ul style={{ margin: "4px 0 0", paddingLeft: 18 }}>
        {gate.reasons.map((r, i) => (
          <li key={i}>{r}</li>
        ))}
      </ul>
    </div>
  );
}

/** `compact` leaves out the reason column (shown as a tooltip instead) for half-width cards. */
export function EvalTable({ results, compact = false }: { results: TEval["results"]; compact?: boolean }) {
  return (
    <DataTable columns={["Metric", { label: "Value", className: "num" }, { label: "Threshold", className: "num" }, "Blocking", "Result", !compact && { label: "Reason", className: "hide-sm" }]}>
      {results.map((r) => (
        <tr key={r.metric} title={compact ? (r.reason ?? undefined) : undefined}>
          <td className="mono">{r.metric}</td>
          <td className="num">{formatNumber(r.value)}</td>
          <td className="num">{r.threshold !== null && r.threshold !== undefined ? `${r.comparator ?? ">="} ${formatNumber(r.threshold)}` : "—"}</td>
          <td>{r.threshold === null || r.threshold === undefined ? "—" : r.blocking ? "yes" : "advisory"}</td>
          <td className="nowrap">{r.passed === null || r.passed === undefined ? <span className="muted">no threshold</span> : <StatusBadge status={r.passed ? "passed" : "failed"} />}</td>
          {compact ? null : <td className="hide-sm muted">{r.reason ?? ""}</td>}
        </tr>
      ))}
    </DataTable>
  );
}

export function EvalPanel({ runId, live }: { runId: string; live: boolean }) {
  const query = useQuery({ queryKey: ["run-eval", runId], queryFn: () => api<TEval>(`/api/v1/runs/${runId}/eval`), refetchInterval: live ? 5000 : false });
  return (
    <div className="card">
      <div className="card-head">
        <h2>Evaluation</h2>
        <a className="btn btn-sm" href={`/runs/${runId}/report`}>
          Printable report
        </a>
      </div>
      <QueryView query={query} isEmpty={(d) => d.results.length === 0 && !d.gate} empty={<Empty title="No evaluation results yet">They appear when the eval stage finishes.</Empty>}>
        {(data) => (
          <div className="stack">
            <GateBanner gate={data.gate} />
            {data.results.length ? <EvalTable results={data.results} /> : null}
          </div>
        )}
      </QueryView>
    </div>
  );
}

/** A templated prompt as its conversation (role, then text); plain prompts as they are. */
export function Prompt({ text }: { text: string }) {
  const messages = parseChatPrompt(text);
  if (!messages) return <div className="mono" style={{ whiteSpace: "pre-wrap" }}>{text}</div>;
  return (
    <div className="chat" data-testid="chat-prompt">
      {messages.map((m, i) => (
        <div key={i} className={`chat-msg chat-${m.role}`}>
          <span className="chat-role">{m.role}</span>
          <span style={{ whiteSpace: "pre-wrap" }}>{m.content}</span>
        </div>
      ))}
    </div>
  );
}

/** Review progress from GET /runs/{id}/review (quota of gate.review, pass rate so far). */
export interface TReviewProgress {
  required: boolean;
  minReviewed: number | "all" | null;
  needed: number;
  reviewed: number;
  total: number;
  good: number;
  met: boolean;
  passRate: number | null;
  awaiting: boolean;
  overrides: { metric: string; comparator: string; value: number; reason?: string; byId?: string | null; at?: string }[];
}

/**
 * Eval samples with review marks. Keyboard-driven: j/k (or ↓/↑) move between samples, g/b mark the focused one good
 * or bad; the focused row is outlined and keeps real DOM focus, so it works with a screen reader and without a mouse.
 */
export function SamplesTable({ runId, canReview }: { runId: string; canReview: boolean }) {
  const queryClient = useQueryClient();
  const [filter, setFilter] = useState<"" | "unreviewed" | "good" | "bad">("");
  const [focusIndex, setFocusIndex] = useState<number | null>(null);
  const rowRefs = useRef(new Map<number, HTMLTableRowElement>());
  const key = ["run-samples", runId];
  const query = useInfiniteQuery({
    queryKey: key,
    initialPageParam: undefined as string | undefined,
    queryFn: ({ pageParam }) => api<TPage<TSample>>(`/api/v1/runs/${runId}/samples${qs({ cursor: pageParam })}`),
    getNextPageParam: (last) => last.nextCursor ?? undefined,
  });
  const review = useMutation({
    mutationFn: ({ index, value }: { index: number; value: "good" | "bad" }) => api(`/api/v1/runs/${runId}/samples/${index}/review`, { method: "PUT", body: { review: value } }),
    onMutate: ({ index, value }) => {
      queryClient.setQueryData<InfiniteData<TPage<TSample>>>(key, (old) =>
        old ? { ...old, pages: old.pages.map((p) => ({ ...p, items: p.items.map((s) => (s.index === index ? { ...s, review: value } : s)) })) } : old,
      );
    },
    onSettled: () => {
      void queryClient.invalidateQueries({ queryKey: key });
      void queryClient.invalidateQueries({ queryKey: ["run-eval", runId] });
      void queryClient.invalidateQueries({ queryKey: ["run-review", runId] });
      void queryClient.invalidateQueries({ queryKey: ["run", runId] });
    },
  });
  const progress = useQuery({ queryKey: ["run-review", runId], queryFn: () => api<TReviewProgress>(`/api/v1/runs/${runId}/review`) });
  const samples = query.data?.pages.flatMap((p) => p.items) ?? [];
  const shown = samples.filter((s) => (filter === "" ? true : filter === "unreviewed" ? !s.review : s.review === filter));
  const p = progress.data;

  function focusRow(index: number) {
    setFocusIndex(index);
    rowRefs.current.get(index)?.focus();
  }
  function onKeyDown(e: React.KeyboardEvent) {
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    const target = e.target as HTMLElement;
    if (target.closest("select, input, textarea")) return;
    const at = shown.findIndex((s) => s.index === focusIndex);
    if (e.key === "j" || e.key === "ArrowDown") {
      const next = shown[Math.min(shown.length - 1, at + 1)];
      if (next) focusRow(next.index);
      e.preventDefault();
    } else if (e.key === "k" || e.key === "ArrowUp") {
      const prev = shown[Math.max(0, at - 1)];
      if (prev) focusRow(prev.index);
      e.preventDefault();
    } else if ((e.key === "g" || e.key === "b") && canReview && focusIndex !== null && at >= 0) {
      review.mutate({ index: focusIndex, value: e.key === "g" ? "good" : "bad" });
      e.preventDefault();
    }
  }
  return (
    <div className="card">
      <div className="card-head">
        <h2>Samples</h2>
        <div className="row small">
          <span className="muted" data-testid="review-progress" aria-live="polite">
            {p
              ? `${p.reviewed} of ${p.total} reviewed${p.required ? ` · ${p.needed} needed for the gate` : ""}${p.passRate !== null ? ` · pass rate ${(p.passRate * 100).toFixed(1)}%` : ""}`
              : "…"}
          </span>
          <select className="input" style={{ width: 130, height: 26 }} aria-label="Filter samples" value={filter} onChange={(e) => setFilter(e.target.value as typeof filter)}>
            <option value="">all</option>
            <option value="unreviewed">unreviewed</option>
            <option value="good">marked good</option>
            <option value="bad">marked bad</option>
          </select>
        </div>
      </div>
      {canReview && samples.length ? (
        <p className="small muted" id="review-keys" style={{ margin: "0 0 8px" }}>
          Keyboard: <kbd>j</kbd>/<kbd>k</kbd> next/previous sample, <kbd>g</kbd> good, <kbd>b</kbd> bad.
        </p>
      ) : null}
      {review.error ? (
        <div className="alert red" role="alert" style={{ marginBottom: 8 }}>
          {errorMessage(review.error)}
        </div>
      ) : null}
      {query.isLoading ? (
        <Loading />
      ) : query.error && !query.data ? (
        <ErrorState error={query.error} retry={() => void query.refetch()} />
      ) : !samples.length ? (
        <Empty title="No samples recorded" />
      ) : (
        <div onKeyDown={onKeyDown} data-testid="samples-review">
        <DataTable columns={[{ label: "#", className: "num" }, "Prompt", "Reference", "Prediction", { label: "Scores", className: "hide-sm" }, "Review"]}>
          {shown.map((s, i) => (
            <tr
              key={s.index}
              data-sample={s.index}
              ref={(el) => {
                if (el) rowRefs.current.set(s.index, el);
                else rowRefs.current.delete(s.index);
              }}
              // One tab stop for the table (roving focus): the focused sample, or the first one.
              tabIndex={(focusIndex === null ? i === 0 : focusIndex === s.index) ? 0 : -1}
              aria-selected={focusIndex === s.index}
              aria-describedby={canReview ? "review-keys" : undefined}
              className={focusIndex === s.index ? "sample-focused" : undefined}
              onFocus={() => setFocusIndex(s.index)}
            >
              <td className="num">{s.index}</td>
              {/* Minimum widths keep words whole on a phone; the table scrolls sideways to the review buttons. */}
              <td className="small" style={{ maxWidth: 280, minWidth: 150, overflowWrap: "anywhere" }}>
                <Prompt text={s.prompt} />
              </td>
              <td className="mono small" style={{ maxWidth: 200, minWidth: 90, whiteSpace: "pre-wrap", overflowWrap: "anywhere" }}>{stripSpecialTokens(s.reference)}</td>
              <td className="mono small" style={{ maxWidth: 200, minWidth: 90, whiteSpace: "pre-wrap", overflowWrap: "anywhere" }}>{stripSpecialTokens(s.prediction)}</td>
              <td className="hide-sm small muted" style={{ maxWidth: 200 }}>
                {Object.entries(s.scores ?? {})
                  .map(([k, v]) => `${k} ${formatNumber(v, 3)}`)
                  .join(" · ")}
              </td>
              <td>
                <div className="row" role="group" aria-label={`Review sample ${s.index}`} style={{ flexWrap: "nowrap" }}>
                  <button type="button" className={`btn btn-sm ${s.review === "good" ? "btn-primary" : ""}`} aria-pressed={s.review === "good"} disabled={!canReview} onClick={() => review.mutate({ index: s.index, value: "good" })}>
                    Good
                  </button>
                  <button type="button" className={`btn btn-sm ${s.review === "bad" ? "btn-danger" : ""}`} aria-pressed={s.review === "bad"} disabled={!canReview} onClick={() => review.mutate({ index: s.index, value: "bad" })}>
                    Bad
                  </button>
                </div>
              </td>
            </tr>
          ))}
        </DataTable>
        </div>
      )}
      {query.hasNextPage ? (
        <button type="button" className="btn btn-sm" style={{ marginTop: 8 }} onClick={() => void query.fetchNextPage()} disabled={query.isFetchingNextPage}>
          Load more samples
        </button>
      ) : null}
    </div>
  );
}

export function ArtifactsTable({ runId }: { runId: string }) {
  const query = useQuery({
    queryKey: ["run-artifacts", runId],
    queryFn: () => api<{ items: TArtifact[] }>(`/api/v1/runs/${runId}/artifacts`),
    select: (d) => d.items,
  });
  return (
    <QueryView query={query} isEmpty={(d) => d.length === 0} empty={<Empty title="No artifacts yet">Adapters, checkpoints and reports appear as stages finish.</Empty>}>
      {(artifacts) => (
        <DataTable columns={["Kind", "URI", { label: "Size", className: "num" }, { label: "sha256", className: "hide-sm" }, { label: "Created", className: "hide-sm" }, ""]}>
          {artifacts.map((a) => (
            <tr key={a.id}>
              <td>
                <Badge tone="violet">{a.kind}</Badge>
              </td>
              <td className="mono small" style={{ overflowWrap: "anywhere" }}>{a.uri}</td>
              <td className="num nowrap">{formatBytes(a.sizeBytes)}</td>
              <td className="hide-sm mono small" title={a.sha256 ?? undefined}>{a.sha256 ? a.sha256.slice(0, 12) : "—"}</td>
              <td className="hide-sm nowrap">{formatTime(a.createdAt)}</td>
              <td>
                {a.downloadable === false ? (
                  <span className="small muted" title={a.uri}>
                    {a.uri.startsWith("file://") ? "missing on the data volume" : "stored remotely"}
                  </span>
                ) : (
                  <a
                    className="btn btn-sm"
                    href={`/api/v1/artifacts/${a.id}/download`}
                    download
                    title={a.archive ? "A .tar.gz of the folder; MANIFEST.sha256 inside checks every file (sha256sum -c MANIFEST.sha256)" : undefined}
                  >
                    Download{a.archive ? " .tar.gz" : ""}
                  </a>
                )}
              </td>
            </tr>
          ))}
        </DataTable>
      )}
    </QueryView>
  );
}

export function runIsLive(run: TRun | undefined): boolean {
  return Boolean(run && RUN_ACTIVE.has(run.status));
}
