export { createPrismaClient, disconnectPrisma, getPrisma } from "./client.ts";
export type { Db, DbOrTx } from "./client.ts";
export { Prisma } from "./generated/prisma/client.ts";
export * from "./generated/prisma/enums.ts";
export type * from "./generated/prisma/models.ts";
export * from "./repositories/users.ts";
export * from "./repositories/tokens.ts";
export * from "./repositories/projects.ts";
export * from "./repositories/audit.ts";
export * from "./repositories/webhooks.ts";
export * from "./repositories/environments.ts";
export * from "./repositories/catalog.ts";
export * from "./repositories/deployments.ts";
export * from "./repositories/serving.ts";
export * from "./repositories/runs.ts"
