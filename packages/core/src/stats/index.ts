export * from "./downsample";
export * from "./histogram";
export * from "./significance";
export * from "./metric-rollup";
export * from "./sequential";
export * from "./power";
export * from "./random";
