import { describe, expect, it } from "vitest";
import { inferenceBaseUrl } from "../../src/rollout/inference-url";

describe("inferenceBaseUrl", () => {
  it("addresses the environment on the shared gateway unless it has its own", () => {
    expect(inferenceBaseUrl({ name: "prod" }, "acme")).toBe("http://127.0.0.1:8080/acme/prod/v1");
    expect(inferenceBaseUrl({ name: "dev", gatewayUrl: null }, "acme", "https://gw.example.com/")).toBe("https://gw.example.com/acme/dev/v1");
    expect(inferenceBaseUrl({ name: "prod", gatewayUrl: "https://prod-gw.example.com/v1/" }, "acme", "https://gw.example.com")).toBe("https://prod-gw.example.com/v1");
  });
});
