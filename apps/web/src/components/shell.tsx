"use client";
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { usePathname } from "next/navigation";
import { signOut } from "next-auth/react";
import { useEffect, useState, type ReactNode } from "react";
import { api, qs } from "@/lib/client/api";
import type { TApproval } from "@/lib/client/types";
import { useProject } from "@/hooks/use-project";
import { ErrorState } from "./ui";

const NAV = [
  { href: "/pipelines", label: "Pipelines" },
  { href: "/datasets", label: "Datasets" },
  { href: "/runs", label: "Runs" },
  { href: "/models", label: "Models" },
  { href: "/releases", label: "Releases" },
  { href: "/deployments", label: "Deployments" },
  { href: "/approvals", label: "Approvals" },
  { href: "/audit", label: "Audit log" },
  { href: "/settings", label: "Settings" },
];

function ProjectSwitcher() {
  const { projects, projectId, setProjectId, isLoading } = useProject();
  return (
    <div className="field">
      <label htmlFor="project-switcher" className="muted">
        Project
      </label>
      <select id="project-switcher" className="input" value={projectId ?? ""} disabled={isLoading || !projects.length} onChange={(e) => setProjectId(e.target.value)}>
        {!projects.length && <option value="">{isLoading ? "Loading…" : "No projects"}</option>}
        {projects.map((p) => (
          <option key={p.id} value={p.id}>
            {p.name}
          </option>
        ))}
      </select>
    </div>
  );
}

function PendingApprovals() {
  const { projectId } = useProject();
  const query = useQuery({
    queryKey: ["approvals", projectId, "pending"],
    queryFn: () => api<{ items: TApproval[] }>(`/api/v1/approvals${qs({ projectId, status: "pending" })}`),
    enabled: Boolean(projectId),
    refetchInterval: 15_000,
    select: (data) => data.items.length,
  });
  return query.data ? <span className="nav-count" aria-label={`${query.data} pending`}>{query.data}</span> : null;
}

export function Shell({ children }: { children: ReactNode }) {
  const pathname = usePathname();
  const { me, role, error } = useProject();
  const [open, setOpen] = useState(false);
  useEffect(() => setOpen(false), [pathname]);

  return (
    <div className="shell">
      <a href="#content" className="skip-link">
        Skip to content
      </a>
      <aside className="sidebar" data-open={open} aria-label="Main navigation">
        <Link href="/pipelines" className="brand">
          <span className="brand-mark" aria-hidden /> Loraplane
        </Link>
        <ProjectSwitcher />
        <nav className="nav">
          {NAV.map((item) => (
            <Link key={item.href} href={item.href} aria-current={pathname === item.href || pathname.startsWith(`${item.href}/`) ? "page" : undefined}>
              {item.label}
              {item.href === "/approvals" && <PendingApprovals />}
            </Link>
          ))}
        </nav>
        <div className="sidebar-foot">
          {me ? (
            <>
              <span title={me.user.email} style={{ overflow: "hidden", textOverflow: "ellipsis" }}>
                {me.user.email}
              </span>
              <span>Role: {role ?? "none"}</span>
            </>
          ) : null}
          <button type="button" className="btn btn-sm" onClick={() => void signOut({ callbackUrl: "/login" })}>
            Sign out
          </button>
        </div>
      </aside>
      {open && <div className="dialog-backdrop" style={{ zIndex: 45 }} onClick={() => setOpen(false)} aria-hidden />}
      <div className="main">
        <header className="topbar">
          <button type="button" className="btn btn-sm" aria-label="Open navigation" aria-expanded={open} onClick={() => setOpen((v) => !v)}>
            ☰
          </button>
          <span className="brand">
            <span className="brand-mark" aria-hidden /> Loraplane
          </span>
        </header>
        <main id="content" className="content">
          {error ? <ErrorState error={error} /> : children}
        </main>
      </div>
    </div>
  );
}
