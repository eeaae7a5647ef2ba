export {};
export * from "./contract.ts";
export * from "./rollout.ts";
