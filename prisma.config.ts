// Prisma CLI configuration. The Rust engines cannot be downloaded on our build machines, so the CLI runs with the
// JS engine through @prisma/adapter-pg. DATABASE_URL must be set whenever the CLI runs (scripts/prisma.mjs does it).
import path from "node:path";
import { PrismaPg } from "@prisma/adapter-pg";
import type { PrismaConfig } from "prisma";

export default {
  experimental: { adapter: true },
  engine: "js",
  schema: path.join("prisma", "schema.prisma"),
  async adapter() {
    return new PrismaPg({ connectionString: process.env.DATABASE_URL });
  },
} satisfies PrismaConfig;
