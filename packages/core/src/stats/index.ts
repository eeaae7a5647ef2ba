export * from "./downsample";
