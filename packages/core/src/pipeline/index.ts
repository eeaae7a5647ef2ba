export * from "./spec.ts";
export * from "./run-state-machine.ts";
export * from "./gate.ts";
export * from "./sweep.ts";
export * from "./sweep-schedule.ts";
