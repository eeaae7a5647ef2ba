// First start (issue 17 item 16): a second user who may approve releases, created once with its password printed
// once; the summary gives every secret exactly one line and says how to send the traffic a canary needs.
import { readFileSync } from "node:fs";
import path from "node:path";
import { loadGatewayEnv } from "@loraplane/config";
import { useTestDb } from "@loraplane/db/testing";
import { describe, expect, it } from "vitest";
import { DEMO_APPROVER_EMAIL, ensureDemoApprover, firstStartLines, trafficCommand } from "../../scripts/start/first-start.ts";

const t = useTestDb("first-start");

describe("first start", () => {
  it("creates the demo approver once, as an approver of the demo project", async () => {
    const admin = await t.db.user.create({ data: { email: "admin@loraplane.local", role: "admin" } });
    const project = await t.db.project.create({ data: { slug: "demo", name: "Demo" } });
    await t.db.projectMember.create({ data: { projectId: project.id, userId: admin.id, role: "admin" } });
    // Without an admin member to keep, nothing is created.
    const orphan = await t.db.project.create({ data: { slug: "orphan", name: "Orphan" } });
    expect(await ensureDemoApprover(t.db, orphan.id)).toBeNull();
    expect(await t.db.user.count({ where: { email: DEMO_APPROVER_EMAIL } })).toBe(0);
    const first = (await ensureDemoApprover(t.db, project.id))!;
    expect(first.email).toBe(DEMO_APPROVER_EMAIL);
    expect(first.password).toMatch(/^\S{12,}$/);
    const member = await t.db.projectMember.findFirstOrThrow({ where: { projectId: project.id, user: { email: DEMO_APPROVER_EMAIL } } });
    expect(member.role).toBe("approver");
    expect((await t.db.projectMember.findFirstOrThrow({ where: { userId: admin.id } })).role).toBe("admin");
    const second = await ensureDemoApprover(t.db, project.id);
    expect(second).toEqual({ email: DEMO_APPROVER_EMAIL, password: null });
  });

  it("prints each password exactly once and the traffic command with its token", () => {
    const lines = firstStartLines({
      admin: { email: "admin@loraplane.local", password: "admin-secret-123456" },
      approver: { email: DEMO_APPROVER_EMAIL, password: "approver-secret-123456" },
      projectName: "Demo",
      projectSlug: "demo",
      pipelineName: "demo-lora",
      endpoint: "demo-assistant",
      gatewayUrl: "http://127.0.0.1:8080",
      trafficToken: "lp_traffic",
    });
    const text = lines.join("\n");
    expect(text.split("admin-secret-123456").length - 1).toBe(1);
    expect(text.split("approver-secret-123456").length - 1).toBe(1);
    expect(text).toContain(trafficCommand({ gatewayUrl: "http://127.0.0.1:8080", projectSlug: "demo", environment: "prod", model: "demo-assistant", token: "lp_traffic" }));
    expect(text).toContain("http://127.0.0.1:8080/demo/prod/v1/completions");
    expect(text).toMatch(/log in as approver@loraplane\.local/);
    // A later start: no secrets, but still the way to both.
    const later = firstStartLines({
      admin: { email: "admin@loraplane.local", password: null },
      approver: { email: DEMO_APPROVER_EMAIL, password: null },
      projectName: "Demo",
      projectSlug: "demo",
      pipelineName: "demo-lora",
      endpoint: "demo-assistant",
      gatewayUrl: "http://127.0.0.1:8080",
      trafficToken: null,
    }).join("\n");
    expect(later).not.toMatch(/password: /);
    expect(later).toContain("inference:invoke");
  });

  it("binds the dashboard and the gateway to 127.0.0.1 unless WEB_HOST / GATEWAY_HOST say otherwise", () => {
    const web = JSON.parse(readFileSync(path.resolve(import.meta.dirname, "../../apps/web/package.json"), "utf8")) as { scripts: { start: string } };
    expect(web.scripts.start).toContain("-H ${WEB_HOST:-127.0.0.1}");
    const gateway = loadGatewayEnv({ DATABASE_URL: "postgresql://u@127.0.0.1:5432/x", REDIS_URL: "redis://127.0.0.1:6379" });
    expect(gateway.GATEWAY_HOST).toBe("127.0.0.1");
    const readme = readFileSync(path.resolve(import.meta.dirname, "../../README.md"), "utf8");
    expect(readme).toContain("`WEB_HOST`");
    expect(readme).toContain("`GATEWAY_HOST`");
  });
});
