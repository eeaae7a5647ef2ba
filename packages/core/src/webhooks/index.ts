export * from "./retry.ts";
export * from "./chat-message.ts";
export * from "./events.ts";
