// Issue #11 finding 7: request bodies (inbound webhooks included) are counted while they stream in and cut off past
// 2 MB; a chunked upload without Content-Length is not buffered whole before the check.
import { useTestDb } from "@loraplane/db/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { API_ROUTES } from "../../src/server/routes/index.ts";
import { BASE, configureEnv, makeProject, type TFixture } from "./fixtures.ts";

const t = useTestDb("web-sec-body");
const hook = API_ROUTES.find((r) => r.def.operationId === "gitlabPushHook")!.handler;
const LIMIT = 2 * 1024 * 1024;
const CHUNK = 64 * 1024;
let fx: TFixture;

beforeAll(async () => {
  configureEnv(t.url);
  fx = await makeProject(t.db, "sec-body");
});

/** A chunked body of up to `total` bytes that records how much of it the server pulled and whether it cancelled. */
function endlessBody(total: number) {
  const stats = { pulled: 0, cancelled: false };
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (stats.pulled >= total) return controller.close();
      stats.pulled += CHUNK;
      controller.enqueue(new Uint8Array(CHUNK).fill(0x61));
    },
    cancel() {
      stats.cancelled = true;
    },
  });
  return { stream, stats };
}

function post(body: ReadableStream<Uint8Array>) {
  const init = {
    method: "POST",
    headers: { "x-gitlab-token": "not-the-secret", "x-gitlab-event": "Push Hook", "content-type": "application/json" },
    body,
    duplex: "half",
  } as RequestInit;
  const req = new Request(`${BASE}/api/v1/hooks/gitlab/${fx.projectId}`, init);
  expect(req.headers.get("content-length")).toBeNull();
  return hook(req);
}

describe("streamed body limit", () => {
  it("aborts a chunked webhook body without Content-Length soon after 2 MB (413), without reading the rest", async () => {
    const { stream, stats } = endlessBody(256 * 1024 * 1024);
    const res = await post(stream);
    expect(res.status).toBe(413);
    expect((await res.json()).error.code).toBe("payload_too_large");
    expect(stats.cancelled).toBe(true);
    // The server stops pulling within a few chunks of the limit (the old code read all 256 MB first).
    expect(stats.pulled).toBeLessThan(LIMIT + 8 * CHUNK);
  });

  it("a chunked body under the limit is read whole and reaches the signature check", async () => {
    const { stream, stats } = endlessBody(LIMIT - CHUNK);
    const res = await post(stream);
    expect(res.status).toBe(403);
    expect(stats.pulled).toBe(LIMIT - CHUNK);
  });
});
