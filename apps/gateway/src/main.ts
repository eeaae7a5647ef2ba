// Replaced by the gateway implementation.
export {};
