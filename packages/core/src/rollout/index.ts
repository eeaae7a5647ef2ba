export * from "./analysis";
export * from "./decide";
export * from "./policy";
export * from "./inference-url";
export * from "./adaptive";
export * from "./shadow";
export * from "./judge";
