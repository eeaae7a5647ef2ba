export {};
export * from "./stats";
export * from "./pipeline/index.ts";
export * from "./rollout";
export * from "./release/index.ts";
export * from "./webhooks/index.ts";
export * from "./datasets/index.ts";
