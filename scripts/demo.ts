// `npm run demo` entry: `npm start`, then a live pipeline run with traffic. The root package is CommonJS, so the
// command lives in scripts/demo/ (an ES module folder), like `npm start`'s.
void import("./demo/main.ts");
