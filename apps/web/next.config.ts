import type { NextConfig } from "next";

const config: NextConfig = {
  // Workspace packages ship TypeScript sources; Next compiles them with the app.
  transpilePackages: ["@loraplane/core", "@loraplane/config", "@loraplane/db", "@loraplane/queue", "@loraplane/services"],
  serverExternalPackages: ["pg", "@prisma/client", "@prisma/adapter-pg", "bullmq", "ioredis", "pino", "@node-rs/argon2"],
  poweredByHeader: false,
  typedRoutes: false,
};

export default config;
