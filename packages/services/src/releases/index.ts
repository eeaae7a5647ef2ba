export * from "./releases.ts";
