export * from "./decide-approval.ts";
