export * from "./register-model-version.ts";
export * from "./lineage.ts";
