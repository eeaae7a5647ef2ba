"use client";
import Link from "next/link";
import { type ReactNode } from "react";
import { errorMessage } from "@/lib/client/api";

const STATUS_TONE: Record<string, string> = {
  succeeded: "green", passed: "green", ready: "green", promoted: "green", approved: "green", production: "green", active: "green", good: "green",
  running: "blue", progressing: "blue", queued: "blue", starting: "blue", staging: "blue", pending: "",
  waiting: "amber", waiting_approval: "amber", awaiting_approval: "amber", awaiting_review: "amber", paused: "amber", draining: "amber", blocked: "amber",
  failed: "red", rejected: "red", rolled_back: "red", error: "red", bad: "red", revoked: "red",
  cancelled: "", skipped: "", retired: "", archived: "", superseded: "", registered: "violet",
};
const LIVE = new Set(["running", "progressing", "queued", "starting"]);

export function StatusBadge({ status, label }: { status: string | null | undefined; label?: string }) {
  const value = status ?? "unknown";
  const tone = STATUS_TONE[value] ?? "";
  return (
    <span className={`badge ${tone} ${LIVE.has(value) ? "live" : ""}`} data-status={value}>
      {label ?? value.replace(/_/g, " ")}
    </span>
  );
}

export function Badge({ children, tone = "" }: { children: ReactNode; tone?: string }) {
  return <span className={`badge plain ${tone}`}>{children}</span>;
}

export function PageHead({ title, sub, crumbs, actions }: { title: ReactNode; sub?: ReactNode; crumbs?: { href: string; label: string }[]; actions?: ReactNode }) {
  return (
    <div className="page-head">
      <div style={{ minWidth: 0 }}>
        {crumbs?.length ? (
          <nav className="crumbs" aria-label="Breadcrumb">
            {crumbs.map((c, i) => (
              <span key={c.href}>
                {i > 0 && " / "}
                <Link href={c.href}>{c.label}</Link>
              </span>
            ))}
          </nav>
        ) : null}
        <h1>{title}</h1>
        {sub ? <div className="sub">{sub}</div> : null}
      </div>
      {actions ? <div className="row">{actions}</div> : null}
    </div>
  );
}

export function Loading({ rows = 3, label = "Loading" }: { rows?: number; label?: string }) {
  return (
    <div className="stack" role="status" aria-live="polite" aria-label={label} style={{ gap: 8, padding: "8px 0" }}>
      {Array.from({ length: rows }, (_, i) => (
        <div key={i} className="skeleton" style={{ width: `${90 - i * 15}%` }} />
      ))}
    </div>
  );
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="state">
      <strong>{title}</strong>
      {children}
    </div>
  );
}

export function ErrorState({ error, retry }: { error: unknown; retry?: () => void }) {
  return (
    <div className="state error" role="alert">
      <div className="row">
        <span>{errorMessage(error)}</span>
        <span className="spacer" />
        {retry ? (
          <button type="button" className="btn btn-sm" onClick={retry}>
            Retry
          </button>
        ) : null}
      </div>
    </div>
  );
}

/** Renders the loading, error or empty state of a query, or its content. */
export function QueryView<T>({
  query,
  empty,
  isEmpty,
  children,
  rows,
}: {
  query: { data: T | undefined; isLoading: boolean; error: unknown; refetch: () => unknown };
  empty?: ReactNode;
  isEmpty?: (data: T) => boolean;
  children: (data: T) => ReactNode;
  rows?: number;
}) {
  if (query.isLoading) return <Loading rows={rows} />;
  if (query.error && query.data === undefined) return <ErrorState error={query.error} retry={() => void query.refetch()} />;
  if (query.data === undefined) return <Loading rows={rows} />;
  if (isEmpty?.(query.data)) return <>{empty ?? <Empty title="Nothing here yet" />}</>;
  return <>{children(query.data)}</>;
}

export function Tabs<T extends string>({ tabs, value, onChange }: { tabs: { id: T; label: ReactNode }[]; value: T; onChange: (id: T) => void }) {
  return (
    <div className="tabs" role="tablist">
      {tabs.map((tab, i) => (
        <button
          key={tab.id}
          type="button"
          role="tab"
          id={`tab-${tab.id}`}
          aria-selected={value === tab.id}
          tabIndex={value === tab.id ? 0 : -1}
          onClick={() => onChange(tab.id)}
          onKeyDown={(e) => {
            const step = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
            if (!step) return;
            const next = tabs[(i + step + tabs.length) % tabs.length]!;
            onChange(next.id);
            document.getElementById(`tab-${next.id}`)?.focus();
          }}
        >
          {tab.label}
        </button>
      ))}
    </div>
  );
}

export function Progress({ value, label }: { value: number; label: string }) {
  const pct = Math.max(0, Math.min(1, value)) * 100;
  return (
    <div className="progress" role="progressbar" aria-label={label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(pct)}>
      <div style={{ width: `${pct}%` }} />
    </div>
  );
}
