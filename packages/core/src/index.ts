export {};
export * from "./stats";
