export * from "./analysis";
export * from "./decide";
export * from "./policy";
