export * from "./ingest.ts";
