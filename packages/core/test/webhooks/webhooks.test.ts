import { describe, expect, it } from "vitest";
import { DEFAULT_WEBHOOK_RETRY, isDeliverySuccess, nextRetryDelayMs, slackMessage, summarizeEvent, teamsMessage, webhookBody } from "../../src/index.ts";

describe("webhook retry schedule", () => {
  const policy = { maxAttempts: 4, baseDelayMs: 1000, maxDelayMs: 5000 };
  it("doubles the delay per attempt within [delay/2, delay), capped, and stops after the last attempt", () => {
    expect(nextRetryDelayMs(policy, 1, 0)).toBe(500);
    expect(nextRetryDelayMs(policy, 1, 0.999)).toBeLessThan(1000);
    expect(nextRetryDelayMs(policy, 2, 0)).toBe(1000);
    expect(nextRetryDelayMs(policy, 3, 0)).toBe(2000);
    expect(nextRetryDelayMs(policy, 4, 0)).toBeNull();
    expect(nextRetryDelayMs({ ...policy, maxAttempts: 10 }, 8, 0.5)).toBeLessThanOrEqual(5000);
  });
  it("honours a longer Retry-After, never beyond the cap", () => {
    expect(nextRetryDelayMs(policy, 1, 0, 3000)).toBe(3000);
    expect(nextRetryDelayMs(policy, 1, 0, 60_000)).toBe(5000);
    expect(nextRetryDelayMs(policy, 1, 0, 10)).toBe(500);
  });
  it("defaults: 8 attempts, the last one about 21 minutes after the first", () => {
    let total = 0;
    for (let made = 1; made < DEFAULT_WEBHOOK_RETRY.maxAttempts; made++) total += nextRetryDelayMs(DEFAULT_WEBHOOK_RETRY, made, 0.999_999)!;
    expect(total).toBeGreaterThan(15 * 60_000);
    expect(total).toBeLessThan(25 * 60_000);
  });
  it("only 2xx is a success", () => {
    expect([200, 204, 299].map(isDeliverySuccess)).toEqual([true, true, true]);
    expect([null, 199, 301, 404, 500].map(isDeliverySuccess)).toEqual([false, false, false, false, false]);
  });
});

describe("chat message formats", () => {
  const approval = { approvalId: "ap1", environment: "prod", modelName: "assistant", version: 3, summary: "Deploy assistant v3 to prod" };
  it("an approval request links to the approval and shows what is released where", () => {
    const s = summarizeEvent("approval.requested", approval, "http://lp.example/");
    expect(s.link).toEqual({ label: "Review and approve", url: "http://lp.example/approvals?id=ap1" });
    expect(s.facts).toContainEqual({ name: "environment", value: "prod" });
    expect(s.text).toBe("Deploy assistant v3 to prod");
  });
  it("Slack: text fallback plus header, section, fields and a link button", () => {
    const m = slackMessage(summarizeEvent("approval.requested", approval, "http://lp"));
    expect(m.text).toMatch(/^Approval needed: Deploy assistant v3/);
    const blocks = m.blocks as { type: string; elements?: { url: string }[] }[];
    expect(blocks.map((b) => b.type)).toEqual(["header", "section", "section", "actions"]);
    expect(blocks[3]!.elements![0]!.url).toBe("http://lp/approvals?id=ap1");
  });
  it("Teams: a message with one Adaptive Card 1.4 and an OpenUrl action", () => {
    const m = teamsMessage(summarizeEvent("deployment.rolled_back", { deploymentId: "d1", reason: "p99 900 ms > 500 ms" }, "http://lp"));
    expect(m.type).toBe("message");
    const att = (m.attachments as { contentType: string; content: { type: string; version: string; body: { text: string }[]; actions: { url: string }[] } }[])[0]!;
    expect(att.contentType).toBe("application/vnd.microsoft.card.adaptive");
    expect(att.content.type).toBe("AdaptiveCard");
    expect(att.content.version).toBe("1.4");
    expect(att.content.body[1]!.text).toBe("p99 900 ms > 500 ms");
    expect(att.content.actions[0]!.url).toBe("http://lp/deployments/d1");
  });
  it("release events link to the releases view", () => {
    expect(summarizeEvent("release.promoted", { releaseId: "r1", runId: "run1", environment: "staging" }, "http://lp").link).toEqual({ label: "Open the releases", url: "http://lp/releases" });
  });
  it("standard format wraps the payload as { type, timestamp, data }", () => {
    const at = new Date("2026-11-30T10:00:00Z");
    expect(webhookBody("standard", "run.succeeded", { runId: "r1" }, at, "http://lp")).toEqual({ type: "run.succeeded", timestamp: "2026-11-30T10:00:00.000Z", data: { runId: "r1" } });
  });
});
