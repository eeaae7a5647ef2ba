export {};
export * from "./audit/index.ts";
export * from "./users/index.ts";
export * from "./tokens/index.ts";
export * from "./projects/index.ts";
export * from "./environments/index.ts";
export * from "./datasets/index.ts";
export * from "./pipelines/index.ts";
export * from "./webhooks/index.ts";
export * from "./errors.ts"
