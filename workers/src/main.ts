// Replaced by the worker process.
export {};
