export * from "./byte-range.ts";
export * from "./folder-archive.ts";
export * from "./streams.ts";
export * from "./tar.ts";
