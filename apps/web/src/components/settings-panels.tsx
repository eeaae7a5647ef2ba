"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { WEBHOOK_EVENTS, type TWebhookFormat } from "@loraplane/core";
import { Fragment, useState, type CSSProperties, type InputHTMLAttributes, type ReactNode } from "react";
import { api, errorMessage, type ApiError } from "@/lib/client/api";
import { formatRelative, formatTime } from "@/lib/client/format";
import type { TApiToken, TEnvironment, TRole, TUser, TWebhook } from "@/lib/client/types";
import { ConfirmDialog } from "./confirm-dialog";
import { DataTable } from "./data-table";
import { Badge, Empty, QueryView, StatusBadge } from "./ui";
import { WebhookDeliveries } from "./webhook-deliveries";

const SCOPES = ["runs:read", "runs:write", "models:read", "models:write", "deployments:read", "deployments:write", "approvals:write", "inference:invoke", "inference:pin", "admin"];
const ROLES: TRole[] = ["viewer", "engineer", "approver", "admin"];

function FieldError({ error, path }: { error: unknown; path: string }) {
  const issue = (error as ApiError | null)?.issues?.find((i) => i.path === path || i.path.startsWith(`${path}.`));
  return issue ? <span className="err">{issue.message}</span> : null;
}

function FormError({ error }: { error: unknown }) {
  return error ? (
    <div className="alert red" role="alert">
      {errorMessage(error)}
    </div>
  ) : null;
}

/** A card form that creates something: its fields, the request's error, one submit button, then what to show once. */
function CreateForm({ title, submit, disabled, mutation, after, children }: { title: string; submit: ReactNode; disabled: boolean; mutation: { mutate: () => void; error: unknown; isPending: boolean }; after?: ReactNode; children: ReactNode }) {
  return (
    <form
      className="card stack"
      onSubmit={(e) => {
        e.preventDefault();
        mutation.mutate();
      }}
    >
      <h2>{title}</h2>
      {children}
      <FormError error={mutation.error} />
      <div>
        <button type="submit" className="btn btn-primary" disabled={disabled || mutation.isPending}>
          {submit}
        </button>
      </div>
      {after}
    </form>
  );
}

/** Label, input, and the server's message for this field of the request (by its path in the request body). */
function InputField({ id, label, error, path, ...input }: { id: string; label: string; error?: unknown; path?: string } & InputHTMLAttributes<HTMLInputElement>) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input id={id} className="input" {...input} />
      {path ? <FieldError error={error} path={path} /> : null}
    </div>
  );
}

function CheckboxGroup({ options, value, onChange }: { options: string[]; value: string[]; onChange: (next: (cur: string[]) => string[]) => void }) {
  return (
    <div className="row">
      {options.map((o) => (
        <label key={o} className="row" style={{ gap: 4 }}>
          <input type="checkbox" checked={value.includes(o)} onChange={(e) => onChange((cur) => (e.target.checked ? [...cur, o] : cur.filter((x) => x !== o)))} />
          <code>{o}</code>
        </label>
      ))}
    </div>
  );
}

function RoleSelect({ value, onChange, ...rest }: { value: TRole; onChange: (role: TRole) => void; id?: string; style?: CSSProperties; "aria-label"?: string }) {
  return (
    <select {...rest} className="input" value={value} onChange={(e) => onChange(e.target.value as TRole)}>
      {ROLES.map((r) => (
        <option key={r}>{r}</option>
      ))}
    </select>
  );
}

/** A secret the server will never show again. */
function OneTimeSecret({ label, secret, onDone }: { label: string; secret: string; onDone: () => void }) {
  const [copied, setCopied] = useState(false);
  return (
    <div className="alert green stack" role="status" style={{ gap: 6 }}>
      <strong>{label} — copy it now, it will not be shown again.</strong>
      <div className="secret" data-testid="one-time-secret">
        {secret}
      </div>
      <div className="row">
        <button
          type="button"
          className="btn btn-sm"
          onClick={() =>
            void navigator.clipboard
              .writeText(secret)
              .then(() => setCopied(true))
              .catch(() => setCopied(false))
          }
        >
          {copied ? "Copied" : "Copy"}
        </button>
        <button type="button" className="btn btn-sm" onClick={onDone}>
          Done
        </button>
      </div>
    </div>
  );
}

export function TokensSettings({ projectId }: { projectId: string | undefined }) {
  const queryClient = useQueryClient();
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState<string[]>(["runs:read", "runs:write"]);
  const [bindProject, setBindProject] = useState(true);
  const [days, setDays] = useState("90");
  const [secret, setSecret] = useState<string | null>(null);
  const [revoking, setRevoking] = useState<TApiToken | null>(null);
  const query = useQuery({ queryKey: ["tokens"], queryFn: () => api<{ items: TApiToken[] }>("/api/v1/tokens"), select: (d) => d.items });
  const create = useMutation({
    mutationFn: () =>
      api<{ token: TApiToken; secret: string }>("/api/v1/tokens", {
        method: "POST",
        body: { name: name.trim(), scopes, projectId: bindProject ? projectId : null, expiresAt: days ? new Date(Date.now() + Number(days) * 86_400_000).toISOString() : null },
      }),
    onSuccess: async (data) => {
      setSecret(data.secret);
      setName("");
      await queryClient.invalidateQueries({ queryKey: ["tokens"] });
    },
  });
  const revoke = useMutation({
    mutationFn: (id: string) => api(`/api/v1/tokens/${id}`, { method: "DELETE" }),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["tokens"] }),
  });
  const daysValid = days === "" || (/^\d+$/.test(days) && Number(days) >= 1 && Number(days) <= 3650);
  return (
    <div className="stack">
      <CreateForm
        title="Create a token"
        submit={create.isPending ? "Creating…" : "Create token"}
        disabled={!name.trim() || !scopes.length || !daysValid}
        mutation={create}
        after={secret ? <OneTimeSecret label="Your new token" secret={secret} onDone={() => setSecret(null)} /> : null}
      >
        <div className="form-grid">
          <InputField id="token-name" label="Name" value={name} onChange={(e) => setName(e.target.value)} placeholder="gitlab-ci" error={create.error} path="name" />
          <div className="field">
            <label htmlFor="token-days">Expires in (days)</label>
            <input id="token-days" className="input" inputMode="numeric" value={days} onChange={(e) => setDays(e.target.value.trim())} aria-invalid={!daysValid} />
            {!daysValid ? <span className="err">1–3650 days, or empty for no expiry</span> : <FieldError error={create.error} path="expiresAt" />}
          </div>
        </div>
        <fieldset>
          <legend>Scopes</legend>
          <CheckboxGroup options={SCOPES} value={scopes} onChange={setScopes} />
          <FieldError error={create.error} path="scopes" />
        </fieldset>
        <label className="row">
          <input type="checkbox" checked={bindProject} onChange={(e) => setBindProject(e.target.checked)} disabled={!projectId} /> Limit to the current project
        </label>
      </CreateForm>
      <QueryView query={query} isEmpty={(d) => d.length === 0} empty={<Empty title="No tokens yet" />}>
        {(tokens) => (
          <DataTable columns={["Name", "Prefix", "Scopes", { label: "Expires", className: "hide-sm" }, { label: "Last used", className: "hide-sm" }, ""]}>
            {tokens.map((t) => {
              const expired = t.expiresAt ? Date.parse(t.expiresAt) < Date.now() : false;
              return (
                <tr key={t.id}>
                  <td>
                    {t.name} {t.revokedAt ? <StatusBadge status="revoked" /> : expired ? <StatusBadge status="failed" label="expired" /> : null}
                  </td>
                  <td className="mono">{t.prefix}…</td>
                  <td className="small">{t.scopes.join(", ")}</td>
                  <td className="hide-sm">{t.expiresAt ? formatTime(t.expiresAt) : "never"}</td>
                  <td className="hide-sm">{t.lastUsedAt ? formatRelative(t.lastUsedAt) : "never"}</td>
                  <td className="right">
                    {!t.revokedAt ? (
                      <button type="button" className="btn btn-sm" onClick={() => setRevoking(t)}>
                        Revoke
                      </button>
                    ) : null}
                  </td>
                </tr>
              );
            })}
          </DataTable>
        )}
      </QueryView>
      {revoking && (
        <ConfirmDialog title={`Revoke ${revoking.name}?`} confirmLabel="Revoke" danger onConfirm={() => revoke.mutateAsync(revoking.id)} onClose={() => setRevoking(null)}>
          Anything using this token stops working immediately.
        </ConfirmDialog>
      )}
    </div>
  );
}

export function UsersSettings() {
  const queryClient = useQueryClient();
  const [email, setEmail] = useState("");
  const [name, setName] = useState("");
  const [role, setRole] = useState<TRole>("engineer");
  const [password, setPassword] = useState<{ email: string; value: string } | null>(null);
  const query = useQuery({ queryKey: ["users"], queryFn: () => api<{ items: TUser[] }>("/api/v1/users"), select: (d) => d.items });
  const create = useMutation({
    mutationFn: () => api<{ user: TUser; generatedPassword?: string | null }>("/api/v1/users", { method: "POST", body: { email: email.trim(), name: name.trim() || undefined, role } }),
    onSuccess: async (data) => {
      if (data.generatedPassword) setPassword({ email: data.user.email, value: data.generatedPassword });
      setEmail("");
      setName("");
      await queryClient.invalidateQueries({ queryKey: ["users"] });
    },
  });
  const update = useMutation({
    mutationFn: ({ id, body }: { id: string; body: Record<string, unknown> }) => api(`/api/v1/users/${id}`, { method: "PATCH", body }),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["users"] }),
  });
  return (
    <div className="stack">
      <CreateForm
        title="Add a user"
        submit="Add user"
        disabled={!email.trim()}
        mutation={create}
        after={password ? <OneTimeSecret label={`Initial password for ${password.email}`} secret={password.value} onDone={() => setPassword(null)} /> : null}
      >
        <div className="form-grid">
          <InputField id="user-email" label="Email" type="email" value={email} onChange={(e) => setEmail(e.target.value)} error={create.error} path="email" />
          <InputField id="user-name" label="Name" value={name} onChange={(e) => setName(e.target.value)} />
          <div className="field">
            <label htmlFor="user-role">Global role</label>
            <RoleSelect id="user-role" value={role} onChange={setRole} />
          </div>
        </div>
      </CreateForm>
      <FormError error={update.error} />
      <QueryView query={query} isEmpty={(d) => d.length === 0}>
        {(users) => (
          <DataTable columns={["User", "Global role", { label: "Created", className: "hide-sm" }, ""]}>
            {users.map((u) => (
              <tr key={u.id}>
                <td>
                  {u.name || u.email} {u.disabledAt ? <Badge tone="red">disabled</Badge> : null}
                  <div className="muted small">{u.email}</div>
                </td>
                <td>
                  <RoleSelect style={{ width: 130 }} aria-label={`Role of ${u.email}`} value={u.role} onChange={(next) => update.mutate({ id: u.id, body: { role: next } })} />
                </td>
                <td className="hide-sm">{formatRelative(u.createdAt)}</td>
                <td className="right">
                  <button type="button" className="btn btn-sm" onClick={() => update.mutate({ id: u.id, body: { disabled: !u.disabledAt } })}>
                    {u.disabledAt ? "Enable" : "Disable"}
                  </button>
                </td>
              </tr>
            ))}
          </DataTable>
        )}
      </QueryView>
    </div>
  );
}

interface TMember {
  userId: string;
  email: string;
  name?: string | null;
  role: TRole;
}

/** What each project role may do, shown where roles are handed out. */
const ROLE_HELP: Record<TRole, string> = {
  viewer: "Viewer: sees pipelines, runs, models, deployments and the audit log; changes nothing.",
  engineer: "Engineer: also creates and edits pipelines, triggers and cancels runs, deploys and operates rollouts.",
  approver: "Approver: everything an engineer does, and approves or rejects releases (never their own).",
  admin: "Admin: everything, plus members, environments, freezes and webhooks.",
};

export function MembersSettings({ projectId, canEdit }: { projectId: string; canEdit: boolean }) {
  const queryClient = useQueryClient();
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<TRole>("engineer");
  const query = useQuery({ queryKey: ["members", projectId], queryFn: () => api<{ items: TMember[] }>(`/api/v1/projects/${projectId}/members`), select: (d) => d.items });
  const users = useQuery({ queryKey: ["users"], enabled: canEdit, queryFn: () => api<{ items: TUser[] }>("/api/v1/users"), select: (d) => d.items, retry: false });
  // The API replaces the whole member list, so every change sends the current list with one entry changed.
  const put = useMutation({
    mutationFn: ({ userId, role: next }: { userId: string; role: TRole | null }) => {
      const current = (query.data ?? []).filter((m) => m.userId !== userId).map((m) => ({ userId: m.userId, role: m.role }));
      return api(`/api/v1/projects/${projectId}/members`, { method: "PUT", body: { members: next ? [...current, { userId, role: next }] : current } });
    },
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["members", projectId] }),
  });
  const [removing, setRemoving] = useState<TMember | null>(null);
  const [name, setName] = useState("");
  const [invited, setInvited] = useState<{ email: string; password: string | null; role: TRole } | null>(null);
  const typedUser = users.data?.find((u) => u.email === email.trim().toLowerCase());
  const typedEmail = email.trim().toLowerCase();
  const isNew = Boolean(typedEmail && users.data && !typedUser && /^[^@\s]+@[^@\s]+$/.test(typedEmail));
  // One step for a new person: the account (global role viewer: the project role is what grants more), then the
  // membership with the chosen project role.
  const invite = useMutation({
    mutationFn: async () => {
      const created = await api<{ user: TUser; generatedPassword?: string | null }>("/api/v1/users", { method: "POST", body: { email: typedEmail, name: name.trim() || undefined, role: "viewer" } });
      const current = (query.data ?? []).map((m) => ({ userId: m.userId, role: m.role }));
      await api(`/api/v1/projects/${projectId}/members`, { method: "PUT", body: { members: [...current, { userId: created.user.id, role }] } });
      return { email: created.user.email, password: created.generatedPassword ?? null, role };
    },
    onSuccess: async (result) => {
      setInvited(result);
      setEmail("");
      setName("");
      await queryClient.invalidateQueries({ queryKey: ["users"] });
      await queryClient.invalidateQueries({ queryKey: ["members", projectId] });
    },
  });
  return (
    <div className="stack">
      {canEdit ? (
        <form
          className="card row"
          onSubmit={(e) => {
            e.preventDefault();
            if (typedUser) put.mutate({ userId: typedUser.id, role }, { onSuccess: () => setEmail("") });
            else if (isNew) invite.mutate();
          }}
        >
          <div className="field" style={{ flex: 2, minWidth: 200 }}>
            <label htmlFor="member-email">User email</label>
            <input id="member-email" className="input" list="user-emails" value={email} onChange={(e) => setEmail(e.target.value)} />
            <datalist id="user-emails">{users.data?.map((u) => <option key={u.id} value={u.email} />)}</datalist>
            {isNew ? <span className="hint">New here: they get an account and this project role in one step.</span> : null}
          </div>
          {isNew ? (
            <div className="field" style={{ flex: 1, minWidth: 140 }}>
              <label htmlFor="member-name">Name</label>
              <input id="member-name" className="input" value={name} onChange={(e) => setName(e.target.value)} />
            </div>
          ) : null}
          <div className="field" style={{ flex: 1, minWidth: 120 }}>
            <label htmlFor="member-role">Role</label>
            <RoleSelect id="member-role" value={role} onChange={setRole} />
          </div>
          <button type="submit" className="btn btn-primary" style={{ alignSelf: "flex-end" }} disabled={(!typedUser && !isNew) || put.isPending || invite.isPending}>
            {isNew ? "Invite" : "Add / update"}
          </button>
          <p className="small muted" style={{ flexBasis: "100%", margin: 0 }}>
            {ROLE_HELP[role]}
          </p>
        </form>
      ) : null}
      {invited ? (
        invited.password ? (
          <OneTimeSecret label={`${invited.email} joined as ${invited.role}. Initial password`} secret={invited.password} onDone={() => setInvited(null)} />
        ) : (
          <div className="alert green" role="status">
            {invited.email} joined as {invited.role}; they sign in with your identity provider.
          </div>
        )
      ) : null}
      <FormError error={put.error ?? invite.error} />
      <QueryView query={query} isEmpty={(d) => d.length === 0} empty={<Empty title="No members" />}>
        {(members) => (
          <DataTable columns={["Member", "Project role", canEdit && ""]}>
            {members.map((m) => (
              <tr key={m.userId}>
                <td>
                  {m.name || m.email}
                  <div className="muted small">{m.email}</div>
                </td>
                <td>
                  {canEdit ? (
                    <RoleSelect style={{ width: 130 }} aria-label={`Project role of ${m.email}`} value={m.role} onChange={(next) => put.mutate({ userId: m.userId, role: next })} />
                  ) : (
                    m.role
                  )}
                </td>
                {canEdit ? (
                  <td className="right">
                    <button type="button" className="btn btn-sm" onClick={() => setRemoving(m)}>
                      Remove
                    </button>
                  </td>
                ) : null}
              </tr>
            ))}
          </DataTable>
        )}
      </QueryView>
      {removing && (
        <ConfirmDialog title={`Remove ${removing.email} from the project?`} confirmLabel="Remove" danger onConfirm={() => put.mutateAsync({ userId: removing.userId, role: null })} onClose={() => setRemoving(null)}>
          They keep their account but lose access to this project.
        </ConfirmDialog>
      )}
    </div>
  );
}

export function EnvironmentsSettings({ projectId, canEdit }: { projectId: string; canEdit: boolean }) {
  const queryClient = useQueryClient();
  const [form, setForm] = useState({ name: "", tier: "dev" as TEnvironment["tier"], namespace: "", gatewayUrl: "" });
  const query = useQuery({ queryKey: ["environments", projectId], queryFn: () => api<{ items: TEnvironment[] }>(`/api/v1/projects/${projectId}/environments`), select: (d) => d.items });
  const create = useMutation({
    mutationFn: () => api(`/api/v1/projects/${projectId}/environments`, { method: "POST", body: { name: form.name.trim(), tier: form.tier, namespace: form.namespace.trim() || form.name.trim(), gatewayUrl: form.gatewayUrl.trim() || undefined } }),
    onSuccess: async () => {
      setForm({ name: "", tier: "dev", namespace: "", gatewayUrl: "" });
      await queryClient.invalidateQueries({ queryKey: ["environments", projectId] });
    },
  });
  const patch = useMutation({
    mutationFn: ({ id, body }: { id: string; body: Partial<TEnvironment> }) => api(`/api/v1/environments/${id}`, { method: "PATCH", body }),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["environments", projectId] }),
  });
  return (
    <div className="stack">
      {canEdit ? (
        <CreateForm title="Add an environment" submit="Add environment" disabled={!form.name.trim()} mutation={create}>
          <div className="form-grid">
            <InputField id="env-name" label="Name" value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} error={create.error} path="name" />
            <div className="field">
              <label htmlFor="env-tier">Tier</label>
              <select id="env-tier" className="input" value={form.tier} onChange={(e) => setForm({ ...form, tier: e.target.value as TEnvironment["tier"] })}>
                <option>dev</option>
                <option>staging</option>
                <option>prod</option>
              </select>
            </div>
            <InputField id="env-ns" label="Namespace" value={form.namespace} placeholder={form.name || "same as name"} onChange={(e) => setForm({ ...form, namespace: e.target.value })} error={create.error} path="namespace" />
            <InputField id="env-gw" label="Gateway URL" value={form.gatewayUrl} placeholder="http://gateway:8080" onChange={(e) => setForm({ ...form, gatewayUrl: e.target.value })} error={create.error} path="gatewayUrl" />
          </div>
        </CreateForm>
      ) : null}
      <FormError error={patch.error} />
      <QueryView query={query} isEmpty={(d) => d.length === 0} empty={<Empty title="No environments" />}>
        {(envs) => (
          <DataTable columns={["Name", "Tier", { label: "Namespace", className: "hide-sm" }, { label: "Gateway", className: "hide-sm" }, "Approval", "Feedback data"]}>
            {envs.map((env) => (
              <tr key={env.id}>
                <td>{env.name}</td>
                <td>
                  <Badge>{env.tier}</Badge>
                </td>
                <td className="hide-sm mono">{env.namespace}</td>
                <td className="hide-sm mono small">{env.gatewayUrl ?? "—"}</td>
                <td>
                  <label className="row" style={{ gap: 4 }}>
                    <input type="checkbox" checked={env.requiresApproval} disabled={!canEdit || patch.isPending} onChange={(e) => patch.mutate({ id: env.id, body: { requiresApproval: e.target.checked } })} />
                    required
                  </label>
                </td>
                <td>
                  <label className="row" style={{ gap: 4 }} title="The gateway stores prompt and response of answered requests with their feedback, for feedback datasets">
                    <input
                      type="checkbox"
                      aria-label={`Capture feedback data in ${env.name}`}
                      checked={env.captureFeedbackData ?? false}
                      disabled={!canEdit || patch.isPending}
                      onChange={(e) => patch.mutate({ id: env.id, body: { captureFeedbackData: e.target.checked } })}
                    />
                    capture
                  </label>
                  <label className="row small muted" style={{ gap: 4 }}>
                    keep
                    <input
                      key={`${env.id}:${env.feedbackRetentionDays ?? 30}`}
                      className="input"
                      style={{ width: 64, padding: "2px 4px" }}
                      type="number"
                      min={1}
                      max={3650}
                      aria-label={`Feedback retention in days for ${env.name}`}
                      defaultValue={env.feedbackRetentionDays ?? 30}
                      disabled={!canEdit || patch.isPending}
                      onBlur={(e) => {
                        const days = Number(e.target.value);
                        if (days !== env.feedbackRetentionDays) patch.mutate({ id: env.id, body: { feedbackRetentionDays: days } });
                      }}
                    />
                    days
                  </label>
                </td>
              </tr>
            ))}
          </DataTable>
        )}
      </QueryView>
    </div>
  );
}

export function WebhooksSettings({ projectId, canEdit }: { projectId: string; canEdit: boolean }) {
  const queryClient = useQueryClient();
  const [url, setUrl] = useState("");
  const [format, setFormat] = useState<TWebhookFormat>("standard");
  const [events, setEvents] = useState<string[]>(["run.succeeded", "run.failed", "deployment.rolled_back"]);
  const [secret, setSecret] = useState<{ label: string; value: string } | null>(null);
  const [deleting, setDeleting] = useState<TWebhook | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  const refresh = () => queryClient.invalidateQueries({ queryKey: ["webhooks", projectId] });
  const query = useQuery({ queryKey: ["webhooks", projectId], queryFn: () => api<{ items: TWebhook[] }>(`/api/v1/projects/${projectId}/webhooks`), select: (d) => d.items });
  const create = useMutation({
    mutationFn: () => api<{ subscription: TWebhook; secret: string | null }>(`/api/v1/projects/${projectId}/webhooks`, { method: "POST", body: { url: url.trim(), events, format } }),
    onSuccess: async (data) => {
      if (data.secret) setSecret({ label: "Signing secret", value: data.secret });
      setUrl("");
      await refresh();
    },
  });
  const remove = useMutation({ mutationFn: (id: string) => api(`/api/v1/webhooks/${id}`, { method: "DELETE" }), onSuccess: refresh });
  const enable = useMutation({ mutationFn: (id: string) => api(`/api/v1/webhooks/${id}/enable`, { method: "POST", body: {} }), onSuccess: refresh });
  const rotate = useMutation({
    mutationFn: (id: string) => api<{ secret: string; previousValidUntil: string }>(`/api/v1/webhooks/${id}/secret`, { method: "POST", body: { overlapHours: 24 } }),
    onSuccess: (d) => setSecret({ label: `New signing secret (the previous one keeps signing until ${formatTime(d.previousValidUntil)})`, value: d.secret }),
  });
  return (
    <div className="stack">
      {canEdit ? (
        <CreateForm title="Subscribe a URL" submit="Subscribe" disabled={!url.trim() || !events.length} mutation={create}>
          <InputField id="hook-url" label="URL" value={url} placeholder="https://ci.internal/hooks/loraplane" onChange={(e) => setUrl(e.target.value)} error={create.error} path="url" />
          <div className="field">
            <label htmlFor="hook-format">Format</label>
            <select id="hook-format" className="input" value={format} onChange={(e) => setFormat(e.target.value as typeof format)}>
              <option value="standard">Signed JSON (Standard Webhooks)</option>
              <option value="slack">Slack incoming webhook</option>
              <option value="teams">Microsoft Teams incoming webhook</option>
            </select>
          </div>
          <fieldset>
            <legend>Events</legend>
            <CheckboxGroup options={[...WEBHOOK_EVENTS]} value={events} onChange={setEvents} />
          </fieldset>
        </CreateForm>
      ) : null}
      {secret ? <OneTimeSecret label={secret.label} secret={secret.value} onDone={() => setSecret(null)} /> : null}
      {enable.error || rotate.error ? (
        <div className="alert red" role="alert">
          {errorMessage(enable.error ?? rotate.error)}
        </div>
      ) : null}
      <QueryView query={query} isEmpty={(d) => d.length === 0} empty={<Empty title="No webhook subscriptions" />}>
        {(hooks) => (
          <DataTable columns={["URL", "Events", "Status", { label: "Created", className: "hide-sm" }, ""]}>
            {hooks.map((h) => (
              <Fragment key={h.id}>
                <tr>
                  <td className="mono small" style={{ overflowWrap: "anywhere" }}>
                    {h.url} {h.format !== "standard" ? <Badge>{h.format}</Badge> : null}
                  </td>
                  <td className="small">{h.events.join(", ")}</td>
                  <td className="small">
                    {h.active ? <StatusBadge status="active" /> : <StatusBadge status="disabled" />}
                    {h.disabledReason ? <div className="muted">{h.disabledReason}</div> : null}
                  </td>
                  <td className="hide-sm">{formatRelative(h.createdAt)}</td>
                  <td className="right">
                    <div className="row" style={{ justifyContent: "flex-end", flexWrap: "wrap" }}>
                      <button type="button" className="btn btn-sm" aria-expanded={open === h.id} onClick={() => setOpen(open === h.id ? null : h.id)}>
                        Deliveries
                      </button>
                      {canEdit && !h.active ? (
                        <button type="button" className="btn btn-sm" disabled={enable.isPending} onClick={() => enable.mutate(h.id)}>
                          Enable
                        </button>
                      ) : null}
                      {canEdit && h.format === "standard" ? (
                        <button type="button" className="btn btn-sm" disabled={rotate.isPending} onClick={() => rotate.mutate(h.id)}>
                          Rotate secret
                        </button>
                      ) : null}
                      {canEdit ? (
                        <button type="button" className="btn btn-sm" onClick={() => setDeleting(h)}>
                          Delete
                        </button>
                      ) : null}
                    </div>
                  </td>
                </tr>
                {open === h.id ? (
                  <tr>
                    <td colSpan={5}>
                      <WebhookDeliveries webhookId={h.id} canRedeliver={canEdit} />
                    </td>
                  </tr>
                ) : null}
              </Fragment>
            ))}
          </DataTable>
        )}
      </QueryView>
      {deleting && (
        <ConfirmDialog title="Delete this webhook?" confirmLabel="Delete" danger onConfirm={() => remove.mutateAsync(deleting.id)} onClose={() => setDeleting(null)}>
          <code>{deleting.url}</code> stops receiving events.
        </ConfirmDialog>
      )}
    </div>
  );
}
