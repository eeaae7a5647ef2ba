import { defineConfig } from "vitest/config";

// One file drives real processes (web, worker, gateway, training and serving subprocesses) on a shared 2-core machine.
export default defineConfig({
  test: {
    globalSetup: ["@loraplane/db/testing/global-setup"],
    include: ["**/*.e2e.int.test.ts"],
    fileParallelism: false,
    testTimeout: 10 * 60_000,
    hookTimeout: 4 * 60_000,
  },
});
