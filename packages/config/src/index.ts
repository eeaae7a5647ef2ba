// The one place that reads process.env (enforced by lint). Every process calls its loader once at start-up.
import { loadConfig } from "./load.ts";
import { ZCliEnv, ZGatewayEnv, ZMigrateEnv, ZWebEnv, ZWorkerEnv } from "./schemas.ts";

export { ConfigError, loadConfig } from "./load.ts";
export * from "./schemas.ts";

export const loadWorkerEnv = (source = process.env) => loadConfig("worker", ZWorkerEnv, source);
export const loadGatewayEnv = (source = process.env) => loadConfig("gateway", ZGatewayEnv, source);
export const loadWebEnv = (source = process.env) => loadConfig("web", ZWebEnv, source);
export const loadMigrateEnv = (source = process.env) => loadConfig("migrate", ZMigrateEnv, source);
export const loadCliEnv = (source = process.env) => loadConfig("cli", ZCliEnv, source);
export { isDeniedWorkloadEnv, workloadEnvironment } from "./workload-env.ts";
