// What a new user needs on the first start beyond the admin: a second user who may approve releases (nobody approves
// their own), and a way to send the traffic a canary needs before it moves. Secrets are printed once, in the banner.
import type { Db } from "@loraplane/db";
import { createApiToken, createUser, listMembers, listUsers, setMembers } from "@loraplane/services";

export const DEMO_APPROVER_EMAIL = "approver@loraplane.local";
const system = { type: "system" as const, userId: null };

/**
 * Creates the demo approver (approver role in the demo project) unless it exists; the password only when created.
 * Null when the project has no admin member to keep (an install older than the seed's membership): nothing is created.
 */
export async function ensureDemoApprover(db: Db, projectId: string): Promise<{ email: string; password: string | null } | null> {
  const existing = (await listUsers(db)).find((u) => u.email === DEMO_APPROVER_EMAIL);
  if (existing) return { email: existing.email, password: null };
  const members = (await listMembers(db, projectId)).map((m) => ({ userId: m.userId, role: m.role }));
  if (!members.some((m) => m.role === "admin")) return null;
  const { user, generatedPassword } = await createUser(db, { email: DEMO_APPROVER_EMAIL, name: "Demo approver", role: "viewer" }, system);
  await setMembers(db, projectId, [...members.filter((m) => m.userId !== user.id), { userId: user.id, role: "approver" }], system);
  return { email: user.email, password: generatedPassword };
}

/** An inference-only token of the admin for the traffic command (created with the admin, so printed once too). */
export async function createTrafficToken(db: Db, userId: string, projectId: string): Promise<string> {
  const { secret } = await createApiToken(db, { name: "demo traffic (npm start)", userId, scopes: ["inference:invoke"], projectId, expiresAt: null }, system);
  return secret;
}

/** One shell line that sends a request every 0.2 s to an environment's endpoint on the gateway. */
export function trafficCommand(o: { gatewayUrl: string; projectSlug: string; environment: string; model: string; token: string }): string {
  const body = JSON.stringify({ model: o.model, prompt: "Uppercase the text.\nhello", max_tokens: 8 });
  return (
    `while :; do curl -s -o /dev/null -H "authorization: Bearer ${o.token}" -H 'content-type: application/json' ` +
    `-d '${body}' ${o.gatewayUrl}/${o.projectSlug}/${o.environment}/v1/completions; sleep 0.2; done`
  );
}

/** The lines of the banner that hand out secrets and say what to click; every secret appears in exactly one line. */
export function firstStartLines(o: {
  admin: { email: string; password: string | null };
  approver: { email: string; password: string | null } | null;
  projectName: string;
  projectSlug: string;
  pipelineName: string;
  endpoint: string | null;
  gatewayUrl: string;
  trafficToken: string | null;
}): string[] {
  const lines: string[] = [];
  if (o.admin.password) lines.push(`  First admin:   ${o.admin.email}  password: ${o.admin.password}`);
  else lines.push(`  Admin:         ${o.admin.email} (password printed on the first start)`);
  if (o.approver?.password) lines.push(`  Approver:      ${o.approver.email}  password: ${o.approver.password}`);
  else if (o.approver) lines.push(`  Approver:      ${o.approver.email} (password printed on the first start)`);
  if (o.admin.password || o.approver?.password) lines.push("  (passwords are shown only this once — store them now; only their hashes are kept)");
  const token = o.trafficToken ?? "<an API token with the inference:invoke scope: Settings → API tokens>";
  lines.push(
    "",
    "What to click:",
    `  1. Log in as ${o.admin.email}, open the project "${o.projectName}".`,
    `  2. Pipelines → ${o.pipelineName} → Run: watch train → eval → gate → register → deploy.`,
    "  3. A canary step moves only with traffic (each step waits for its minimum number of requests). Send some:",
    o.endpoint
      ? `     ${trafficCommand({ gatewayUrl: o.gatewayUrl, projectSlug: o.projectSlug, environment: "prod", model: o.endpoint, token })}`
      : "     (the demo pipeline has no deploy section)",
    o.trafficToken ? "     (that token may only call the gateway for this project; it is shown only this once)" : "",
    o.approver
      ? `  4. Approvals: the prod release needs somebody other than its requester — log in as ${o.approver.email}`
      : "  4. Approvals: the prod release needs somebody other than its requester — add one in Settings → Users, then",
    o.approver
      ? "     (in another browser profile) and approve it; then Deployments shows the canary steps and latency charts."
      : "     make them an approver of the project and approve as them; then Deployments shows the canary steps.",
    "  Or `npm run demo` plays all of this, traffic included.",
  );
  return lines.filter((l, i, all) => l !== "" || all[i - 1] !== "");
}
