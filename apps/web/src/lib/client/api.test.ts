import { describe, expect, it } from "vitest";
import { errorMessage, qs, toApiError } from "./api";

describe("API error body", () => {
  it("reads the route builder's error body with field paths", () => {
    const error = toApiError(400, { error: { code: "validation_failed", message: "invalid body", issues: [{ path: "spec.training.learningRate", message: "must be <= 1" }] }, requestId: "r1" }, "fallback");
    expect(error).toMatchObject({ status: 400, code: "validation_failed", message: "invalid body", requestId: "r1" });
    expect(errorMessage(error)).toBe("invalid body: spec.training.learningRate must be <= 1");
  });

  it("quotes the request id of a server error and survives a body that is not JSON", () => {
    expect(errorMessage(toApiError(500, { error: { code: "internal_error", message: "internal error" }, requestId: "abc" }, "x"))).toBe("internal error (request id abc)");
    const bare = toApiError(502, undefined, "502 Bad Gateway");
    expect(bare).toMatchObject({ code: "http_502", message: "502 Bad Gateway", issues: [] });
  });

  it("builds query strings without empty values", () => {
    expect(qs({ projectId: "p", status: "", cursor: undefined, limit: 25 })).toBe("?projectId=p&limit=25");
    expect(qs({})).toBe("");
  });
});
