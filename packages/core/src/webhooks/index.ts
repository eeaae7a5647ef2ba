export * from "./retry.ts";
export * from "./chat-message.ts";
