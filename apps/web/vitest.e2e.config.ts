import { defineConfig } from "vitest/config";

// Browser tests against the built app: `npx turbo run test:e2e --filter=@loraplane/web` builds it first (npm test does).
export default defineConfig({
  test: {
    globalSetup: ["@loraplane/db/testing/global-setup"],
    include: ["test/e2e/**/*.e2e.ts"],
    // One browser flow at a time: they share the two cores with a Next server, a worker and training subprocesses.
    fileParallelism: false,
    testTimeout: 15 * 60_000,
    hookTimeout: 5 * 60_000,
  },
});
