// Issue #11 finding 8: webhook URLs are secrets (Slack/Teams incoming-webhook URLs are their own credentials). Audit
// entries — readable by every project member — carry only the URL's scheme and host, in `before` and `after`, for new
// entries (redacted when written) and for rows written before the fix (redacted when read).
import { useTestDb } from "@loraplane/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serverContext } from "../../src/server/context.ts";
import { API_ROUTES } from "../../src/server/routes/index.ts";
import { call, configureEnv, makeProject, makeUser, type TFixture, tokenFor } from "./fixtures.ts";

const t = useTestDb("web-sec-audit");
const h = (operationId: string) => API_ROUTES.find((r) => r.def.operationId === operationId)!.handler;
// A Slack-shaped URL on an allowed internal host (this machine resolves no public names).
const SLACK = "http://127.0.0.1:9/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX";
const SECRET_PART = "XXXXXXXXXXXXXXXXXXXXXXXX";
let fx: TFixture;
let adminToken = "";
let viewerToken = "";

beforeAll(async () => {
  configureEnv(t.url);
  process.env.WEBHOOK_ALLOWED_HOSTS = "127.0.0.1";
  fx = await makeProject(t.db, "sec-audit");
  const admin = await makeUser(t.db, "admin@audit.test");
  const viewer = await makeUser(t.db, "viewer@audit.test");
  await t.db.projectMember.createMany({ data: [{ projectId: fx.projectId, userId: admin.id, role: "admin" }, { projectId: fx.projectId, userId: viewer.id, role: "viewer" }] });
  adminToken = (await tokenFor(t.db, admin.id)).secret;
  viewerToken = (await tokenFor(t.db, viewer.id)).secret;
});

afterAll(async () => {
  await serverContext().queue().close();
});

describe("webhook URLs in the audit log", () => {
  it("creating and deleting a Slack webhook leaves its URL out of the audit entries (stored and returned)", async () => {
    const created = await call(h("createWebhook"), "post", `/api/v1/projects/${fx.projectId}/webhooks`, {
      headers: { authorization: `Bearer ${adminToken}` },
      body: { url: SLACK, events: ["run.succeeded"], format: "slack" },
    });
    const body = await created.json();
    expect(created.status, JSON.stringify(body)).toBe(201);
    const deleted = await call(h("deleteWebhook"), "delete", `/api/v1/webhooks/${body.subscription.id}`, { headers: { authorization: `Bearer ${adminToken}` } });
    expect(deleted.status).toBe(200);

    const rows = await t.db.auditLog.findMany({ where: { subjectId: body.subscription.id } });
    expect(rows.map((r) => r.action).sort()).toEqual(["webhook.create", "webhook.delete"]);
    const stored = JSON.stringify(rows.map((r) => [r.before, r.after]));
    expect(stored).not.toContain(SECRET_PART);
    expect(stored).not.toContain("/services/");
    expect(stored).not.toContain("secretCiphertext\":\"v1");
    expect(stored).toContain("http://127.0.0.1:9/…");

    const listed = await call(h("listAudit"), "get", `/api/v1/audit?projectId=${fx.projectId}&limit=100`, { headers: { authorization: `Bearer ${viewerToken}` } });
    expect(listed.status).toBe(200);
    const text = await listed.text();
    expect(text).toContain("webhook.create");
    expect(text).not.toContain(SECRET_PART);
  });

  it("entries written before the fix are redacted when a viewer reads them", async () => {
    await t.db.auditLog.create({
      data: { projectId: fx.projectId, actorType: "user", action: "webhook.create", subjectType: "webhook_subscription", subjectId: "legacy", before: { url: SLACK, secret: "whsec_abc" }, after: { url: SLACK, events: ["run.failed"] } },
    });
    const listed = await call(h("listAudit"), "get", `/api/v1/audit?projectId=${fx.projectId}&action=webhook.create&limit=100`, { headers: { authorization: `Bearer ${viewerToken}` } });
    const text = await listed.text();
    expect(listed.status, text).toBe(200);
    expect(text).not.toContain(SECRET_PART);
    expect(text).not.toContain("whsec_abc");
    const entry = JSON.parse(text).items.find((i: { subjectId: string }) => i.subjectId === "legacy");
    expect(entry.after).toEqual({ url: "http://127.0.0.1:9/…", events: ["run.failed"] });
  });

  it("viewers cannot list webhook subscriptions (where the URLs are)", async () => {
    const res = await call(h("listWebhooks"), "get", `/api/v1/projects/${fx.projectId}/webhooks`, { headers: { authorization: `Bearer ${viewerToken}` } });
    expect(res.status).toBe(403);
  });
});
