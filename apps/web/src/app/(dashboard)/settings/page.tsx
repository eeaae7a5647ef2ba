"use client";
import { useState } from "react";
import { useProject } from "@/hooks/use-project";
import { EnvironmentsSettings, MembersSettings, TokensSettings, UsersSettings, WebhooksSettings } from "@/components/settings-panels";
import { Empty, PageHead, Tabs } from "@/components/ui";

type TTab = "tokens" | "members" | "users" | "environments" | "webhooks";

export default function SettingsPage() {
  const { projectId, can, me } = useProject();
  const [tab, setTab] = useState<TTab>("tokens");
  const isAdmin = me?.user.role === "admin";
  const tabs: { id: TTab; label: string }[] = [
    { id: "tokens", label: "API tokens" },
    { id: "members", label: "Members" },
    ...(isAdmin ? [{ id: "users" as const, label: "Users" }] : []),
    { id: "environments", label: "Environments" },
    { id: "webhooks", label: "Webhooks" },
  ];
  return (
    <>
      <PageHead title="Settings" />
      <Tabs tabs={tabs} value={tab} onChange={setTab} />
      {tab === "tokens" && <TokensSettings projectId={projectId} />}
      {tab === "users" && isAdmin && <UsersSettings />}
      {tab !== "tokens" && tab !== "users" && !projectId ? <Empty title="No project selected" /> : null}
      {tab === "members" && projectId && <MembersSettings projectId={projectId} canEdit={can("admin")} />}
      {tab === "environments" && projectId && <EnvironmentsSettings projectId={projectId} canEdit={can("admin")} />}
      {tab === "webhooks" && projectId && <WebhooksSettings projectId={projectId} canEdit={can("admin")} />}
    </>
  );
}
