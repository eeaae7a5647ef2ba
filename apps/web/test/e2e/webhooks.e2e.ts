// Webhook settings in a real browser against the built app (issue 16): subscribe with a chat format and release
// events, the delivery log with its request/response excerpts, Redeliver on a failed delivery (the server requeues it,
// audited) and not on a queued one, Enable on a subscription the worker disabled, and secret rotation shown once.
// Screenshots at 1280 and 390 px. Fails on any console error.
import type { Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { checkAfterTest, shot, signInAsAdmin, type TSession } from "./session";
import { startStack, type TStack } from "./stack";

const PORT = 3243;
let stack: TStack;
let session: TSession;
let page: Page;


async function seedHooks(s: TStack) {
  const disabled = await s.db.webhookSubscription.create({
    data: { projectId: s.projectId, url: "https://ci.example.com/hooks/loraplane", secretCiphertext: "sealed", events: ["run.failed"], active: false, consecutiveFailures: 5, disabledAt: new Date(), disabledReason: "5 deliveries in a row exhausted their retries (last: HTTP 500)" },
    select: { id: true },
  });
  const now = Date.now();
  const failed = await s.db.webhookDelivery.create({
    data: { subscriptionId: disabled.id, event: "run.failed", eventId: "evt_failed_1", payload: { type: "run.failed" }, status: "failed", attempts: 8, lastStatusCode: 500, lastRequest: "POST /hooks/loraplane\nwebhook-id: evt_failed_1\nwebhook-signature: (elided)\n\n{\"type\":\"run.failed\"}", lastResponse: "internal error", lastDurationMs: 41, lastAttemptAt: new Date(now - 60_000), createdAt: new Date(now - 3_600_000) },
    select: { id: true },
  });
  await s.db.webhookDelivery.create({
    data: { subscriptionId: disabled.id, event: "run.failed", eventId: "evt_pending_2", payload: { type: "run.failed" }, status: "pending", attempts: 1, lastError: "connect ECONNREFUSED", nextAttemptAt: new Date(now + 600_000), lastAttemptAt: new Date(now - 30_000), createdAt: new Date(now - 40_000) },
  });
  return { disabled: disabled.id, failed: failed.id };
}

describe("webhook settings in the browser", () => {
  let seed: Awaited<ReturnType<typeof seedHooks>>;

  beforeAll(async () => {
    stack = await startStack({ port: PORT, label: "webhooks", worker: false });
    seed = await seedHooks(stack);
    session = await signInAsAdmin(stack);
    page = session.page;
  });

  afterAll(async () => {
    await stack?.stop();
  });

  afterEach((ctx) => checkAfterTest(ctx, stack, session, "webhooks"));

  it("redelivers a failed delivery, not a queued one, and re-enables a disabled subscription", async () => {
    await page.goto(`${stack.baseUrl}/settings`);
    await page.getByText("No tokens yet").or(page.locator("table")).first().waitFor();
    await page.getByRole("tab", { name: "Webhooks" }).click();
    await page.getByText("5 deliveries in a row exhausted their retries").waitFor();
    await page.getByRole("button", { name: "Deliveries" }).click();
    const failedRow = page.locator(`tr[data-delivery="${seed.failed}"]`);
    await failedRow.getByText("HTTP 500").waitFor();
    // Only the finished delivery offers Redeliver; the queued one is retried by the worker anyway.
    expect(await page.getByRole("button", { name: "Redeliver" }).count()).toBe(1);
    await failedRow.getByRole("button", { name: "run.failed" }).click();
    await page.locator(`tr[data-delivery-detail="${seed.failed}"]`).getByText("webhook-signature: (elided)").waitFor();
    await shot(page, "settings-webhooks");

    await failedRow.getByRole("button", { name: "Redeliver" }).click();
    await failedRow.getByText("pending").waitFor();
    expect(await failedRow.getByRole("button", { name: "Redeliver" }).count()).toBe(0);
    const row = await stack.db.webhookDelivery.findUniqueOrThrow({ where: { id: seed.failed }, select: { status: true, eventId: true } });
    expect(row).toEqual({ status: "pending", eventId: "evt_failed_1" });
    expect(await stack.db.auditLog.count({ where: { action: "webhook.redeliver", subjectId: seed.failed, actorId: stack.admin.id } })).toBe(1);

    await page.getByRole("button", { name: "Enable" }).click();
    await page.getByRole("button", { name: "Enable" }).waitFor({ state: "detached" });
    const sub = await stack.db.webhookSubscription.findUniqueOrThrow({ where: { id: seed.disabled }, select: { active: true, disabledReason: true } });
    expect(sub).toEqual({ active: true, disabledReason: null });
  });

  it("subscribes a Slack receiver to release events, and rotates a signed subscription's secret once", async () => {
    await page.getByLabel("URL").fill("https://93.184.216.34/services/T000/B000");
    await page.getByLabel("Format").selectOption("slack");
    await page.getByLabel("release.awaiting_approval").check();
    await page.getByRole("button", { name: "Subscribe" }).click();
    await page.getByText("https://93.184.216.34/services/T000/B000").waitFor();
    const slack = await stack.db.webhookSubscription.findFirstOrThrow({ where: { url: "https://93.184.216.34/services/T000/B000" }, select: { format: true, events: true } });
    expect(slack.format).toBe("slack");
    expect(slack.events).toContain("release.awaiting_approval");
    // Chat receivers are not signed: no secret to rotate on them.
    const slackRow = page.locator("tr", { hasText: "93.184.216.34" });
    expect(await slackRow.getByRole("button", { name: "Rotate secret" }).count()).toBe(0);

    const signedRow = page.locator("tr", { hasText: "ci.example.com" }).first();
    await signedRow.getByRole("button", { name: "Rotate secret" }).click();
    await page.getByText(/New signing secret \(the previous one keeps signing until/).waitFor();
    const secret = await page.getByTestId("one-time-secret").innerText();
    expect(secret).toMatch(/^whsec_/);
    expect(await stack.db.auditLog.count({ where: { action: "webhook.rotate_secret", subjectId: seed.disabled } })).toBe(1);
  });
});
