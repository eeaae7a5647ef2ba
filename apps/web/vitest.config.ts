import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: {
    alias: {
      "@/": fileURLToPath(new URL("./src/", import.meta.url)),
      // Outside Next's react-server build, `server-only` throws on import; tests run server code directly.
      "server-only": fileURLToPath(new URL("./test/api/server-only-stub.ts", import.meta.url)),
    },
  },
  test: {
    globalSetup: ["@loraplane/db/testing/global-setup"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    include: ["test/**/*.test.ts", "src/**/*.test.ts"],
  },
});
