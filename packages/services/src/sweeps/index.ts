export * from "./sweeps.ts";
