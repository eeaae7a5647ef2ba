// The web process's Prometheus endpoint: off without METRICS_TOKEN, bearer-protected, and counting every operation's
// latency by status, authentication failures and the queue depth the API sees.
import { useTestDb } from "@loraplane/db/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { GET as metrics } from "../../src/app/api/metrics/route.ts";
import { API_ROUTES } from "../../src/server/routes/index.ts";
import { BASE, call, configureEnv, makeUser, tokenFor } from "./fixtures.ts";

const t = useTestDb("web-metrics");
const METRICS_TOKEN = "metrics-token-0123456789";
const scrape = (auth?: string) => metrics(new Request(`${BASE}/api/metrics`, auth ? { headers: { authorization: auth } } : {}));
const handlerOf = (operationId: string) => API_ROUTES.find((r) => r.def.operationId === operationId)!.handler;

beforeAll(() => {
  configureEnv(t.url);
  process.env.METRICS_TOKEN = METRICS_TOKEN;
});

describe("/api/metrics", () => {
  it("refuses a scrape without the token", async () => {
    expect((await scrape()).status).toBe(401);
    expect((await scrape("Bearer wrong-token-0123456789")).status).toBe(401);
  });

  it("counts requests by operation and status, auth failures, and reads the queue depth", async () => {
    const user = await makeUser(t.db, "metrics@example.com", "admin");
    const { secret } = await tokenFor(t.db, user.id);
    expect((await call(handlerOf("listProjects"), "get", "/api/v1/projects")).status).toBe(401);
    expect((await call(handlerOf("listProjects"), "get", "/api/v1/projects", { headers: { authorization: `Bearer ${secret}` } })).status).toBe(200);
    const res = await scrape(`Bearer ${METRICS_TOKEN}`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(/loraplane_web_http_request_duration_seconds_count\{operation="listProjects",method="GET",status="401"\} 1/);
    expect(text).toMatch(/loraplane_web_http_request_duration_seconds_count\{operation="listProjects",method="GET",status="200"\} 1/);
    expect(text).toMatch(/loraplane_web_auth_failures_total\{operation="listProjects",status="401"\} 1/);
    expect(text).toMatch(/loraplane_web_queue_jobs\{queue="[^"]+",state="waiting"\} 0/);
    expect(text).toContain("loraplane_web_process_cpu_seconds_total");
  });
});
