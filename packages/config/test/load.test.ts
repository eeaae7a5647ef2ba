import { describe, expect, it } from "vitest";
import { ConfigError, loadWebEnv, loadWorkerEnv } from "../src/index.ts";

describe("loadConfig", () => {
  it("fills defaults for a bare environment", () => {
    const env = loadWorkerEnv({});
    expect(env.DATABASE_URL).toBe("postgresql://postgres@127.0.0.1:5432/loraplane");
    expect(env.WORKER_CONCURRENCY).toBe(4);
    expect(env.EXECUTOR).toBe("local");
  });

  it("lists every problem in one error", () => {
    try {
      loadWebEnv({ DATABASE_URL: "mysql://x", WEB_PORT: "99999" });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const message = (error as ConfigError).message;
      expect(message).toContain("DATABASE_URL: must be a postgres");
      expect(message).toContain("WEB_PORT");
      expect(message).toContain("NEXTAUTH_SECRET: missing");
      expect(message).toContain("LORAPLANE_SECRET_KEY: missing");
    }
  });

  it("coerces numbers and rejects bad enums", () => {
    expect(loadWorkerEnv({ WORKER_CONCURRENCY: "8" }).WORKER_CONCURRENCY).toBe(8);
    expect(() => loadWorkerEnv({ EXECUTOR: "docker" })).toThrow(/EXECUTOR/);
  });
});

describe("gateway addressing", () => {
  it("reads GATEWAY_PUBLIC_URL for web and workers and the environments a gateway serves", async () => {
    const { loadGatewayEnv } = await import("../src/index.ts");
    expect(loadWorkerEnv({}).GATEWAY_PUBLIC_URL).toBe("http://127.0.0.1:8080");
    expect(loadWorkerEnv({ GATEWAY_PUBLIC_URL: "https://gw.example.com/" }).GATEWAY_PUBLIC_URL).toBe("https://gw.example.com");
    expect(loadGatewayEnv({}).GATEWAY_ENVIRONMENTS).toEqual([]);
    expect(loadGatewayEnv({ GATEWAY_ENVIRONMENTS: "acme/prod, */staging" }).GATEWAY_ENVIRONMENTS).toEqual(["acme/prod", "*/staging"]);
    expect(() => loadGatewayEnv({ GATEWAY_ENVIRONMENTS: "prod" })).toThrow(/GATEWAY_ENVIRONMENTS/);
  });
});

describe("rollout traffic provider", () => {
  it("defaults to builtin; gateway-api takes the Gateway's parentRef and hostnames; bad values stop start-up", () => {
    expect(loadWorkerEnv({}).ROLLOUT_TRAFFIC_PROVIDER).toBe("builtin");
    const env = loadWorkerEnv({ ROLLOUT_TRAFFIC_PROVIDER: "gateway-api", GATEWAY_API_PARENT_NAME: "public", GATEWAY_API_PARENT_NAMESPACE: "gateways", GATEWAY_API_HOSTNAMES: "llm.example.com, *.llm.example.com" });
    expect(env).toMatchObject({ ROLLOUT_TRAFFIC_PROVIDER: "gateway-api", GATEWAY_API_PARENT_NAME: "public", GATEWAY_API_PARENT_NAMESPACE: "gateways", GATEWAY_API_HOSTNAMES: ["llm.example.com", "*.llm.example.com"] });
    expect(() => loadWorkerEnv({ ROLLOUT_TRAFFIC_PROVIDER: "istio" })).toThrow(/ROLLOUT_TRAFFIC_PROVIDER/);
    expect(() => loadWorkerEnv({ GATEWAY_API_PARENT_NAME: "Not A Name" })).toThrow(/GATEWAY_API_PARENT_NAME/);
  });
});
