// Chat notifications: the same event rendered as a Slack incoming-webhook message (text + Block Kit) or a Microsoft
// Teams message carrying an Adaptive Card (what Teams incoming webhooks and Workflows accept). Pure: the worker
// signs and sends what this returns.

export type TWebhookFormat = "standard" | "slack" | "teams";
export const WEBHOOK_FORMATS = ["standard", "slack", "teams"] as const;

export interface TChatSummary {
  title: string;
  text: string;
  /** Facts shown as a list: metric values, environment, who asked. */
  facts: { name: string; value: string }[];
  link: { label: string; url: string } | null;
  tone: "good" | "warning" | "attention";
}

type TPayload = Record<string, unknown>;

const str = (v: unknown): string | null => (typeof v === "string" && v.length > 0 ? v : typeof v === "number" ? String(v) : null);

function factsOf(payload: TPayload, keys: string[]): { name: string; value: string }[] {
  return keys.flatMap((k) => {
    const v = str(payload[k]);
    return v ? [{ name: k, value: v }] : [];
  });
}

/** What a person needs to know about an event, and the dashboard page to act on it. */
export function summarizeEvent(event: string, payload: TPayload, dashboardUrl: string): TChatSummary {
  const base = dashboardUrl.replace(/\/+$/, "");
  const at = (path: string, label: string) => ({ label, url: `${base}${path}` });
  const reason = str(payload.reason) ?? str(payload.error);
  const common = factsOf(payload, ["environment", "endpointName", "modelName", "version", "runNumber", "requestedBy"]);
  switch (event) {
    case "approval.requested":
    case "release.awaiting_approval":
      return {
        title: "Approval needed",
        text: str(payload.summary) ?? `A release is waiting for approval${str(payload.environment) ? ` in ${payload.environment as string}` : ""}.`,
        facts: common,
        link: at(str(payload.approvalId) ? `/approvals?id=${payload.approvalId as string}` : "/approvals", "Review and approve"),
        tone: "warning",
      };
    case "run.blocked":
      return {
        title: "Evaluation gate blocked a run",
        text: reason ?? "The run missed a threshold.",
        facts: [...common, ...factsOf(payload, ["pipeline"])],
        link: str(payload.runId) ? at(`/runs/${payload.runId as string}`, "Open the run") : null,
        tone: "attention",
      };
    case "run.failed":
      return { title: "Run failed", text: reason ?? "The run failed.", facts: common, link: str(payload.runId) ? at(`/runs/${payload.runId as string}`, "Open the run") : null, tone: "attention" };
    case "deployment.rolled_back":
    case "release.rolled_back":
      return {
        title: "Rolled back",
        text: reason ?? "Traffic went back to the previous version.",
        facts: common,
        link: str(payload.deploymentId) ? at(`/deployments/${payload.deploymentId as string}`, "Open the deployment") : null,
        tone: "attention",
      };
    default:
      return {
        title: event,
        text: reason ?? str(payload.summary) ?? event.replace(/[._]/g, " "),
        facts: common,
        link: str(payload.releaseId)
          ? at("/releases", "Open the releases")
          : str(payload.runId)
            ? at(`/runs/${payload.runId as string}`, "Open the run")
            : str(payload.deploymentId)
              ? at(`/deployments/${payload.deploymentId as string}`, "Open the deployment")
              : null,
        tone: "good",
      };
  }
}

/** Slack incoming webhook: `text` is the notification fallback, blocks the message. */
export function slackMessage(s: TChatSummary): TPayload {
  const blocks: TPayload[] = [
    { type: "header", text: { type: "plain_text", text: s.title.slice(0, 150) } },
    { type: "section", text: { type: "mrkdwn", text: s.text.slice(0, 3000) } },
  ];
  if (s.facts.length) blocks.push({ type: "section", fields: s.facts.slice(0, 10).map((f) => ({ type: "mrkdwn", text: `*${f.name}*\n${f.value}`.slice(0, 2000) })) });
  if (s.link) blocks.push({ type: "actions", elements: [{ type: "button", text: { type: "plain_text", text: s.link.label }, url: s.link.url, ...(s.tone === "warning" ? { style: "primary" } : {}) }] });
  return { text: `${s.title}: ${s.text}`.slice(0, 3000), blocks };
}

/** Microsoft Teams: a message with one Adaptive Card attachment (schema 1.4). */
export function teamsMessage(s: TChatSummary): TPayload {
  const color = { good: "Good", warning: "Warning", attention: "Attention" }[s.tone];
  const body: TPayload[] = [
    { type: "TextBlock", size: "Medium", weight: "Bolder", text: s.title, color, wrap: true },
    { type: "TextBlock", text: s.text, wrap: true },
  ];
  if (s.facts.length) body.push({ type: "FactSet", facts: s.facts.map((f) => ({ title: f.name, value: f.value })) });
  return {
    type: "message",
    attachments: [
      {
        contentType: "application/vnd.microsoft.card.adaptive",
        contentUrl: null,
        content: {
          $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
          type: "AdaptiveCard",
          version: "1.4",
          body,
          ...(s.link ? { actions: [{ type: "Action.OpenUrl", title: s.link.label, url: s.link.url }] } : {}),
        },
      },
    ],
  };
}

/**
 * The body sent for an event. `standard` follows the Standard Webhooks shape ({ type, timestamp, data }); the chat
 * formats are what Slack and Teams render.
 */
export function webhookBody(format: TWebhookFormat, event: string, payload: TPayload, occurredAt: Date, dashboardUrl: string): TPayload {
  if (format === "standard") return { type: event, timestamp: occurredAt.toISOString(), data: payload };
  const summary = summarizeEvent(event, payload, dashboardUrl);
  return format === "slack" ? slackMessage(summary) : teamsMessage(summary);
}
