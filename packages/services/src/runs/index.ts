export * from "./deps.ts";
export * from "./trigger-run.ts";
export * from "./cancel-run.ts";
export * from "./retry-run.ts";
export * from "./run-files.ts";
export * from "./review.ts";
