export {};
export * from "./stats";
export * from "./pipeline/index.ts";
export * from "./rollout";
