export * from "./rows.ts";
