export * from "./downsample";
export * from "./histogram";
export * from "./significance";
