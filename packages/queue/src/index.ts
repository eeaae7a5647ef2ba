export {};
export * from "./contract.ts";
