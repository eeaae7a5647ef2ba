// `npm start` entry. The root package is CommonJS (no "type" field), so the command itself lives in scripts/start/
// (an ES module folder) where import.meta and the workspace packages' ESM sources load natively.
void import("./start/main.ts").then((start) => start.runStart());
