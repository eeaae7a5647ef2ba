export { createPrismaClient, disconnectPrisma, getPrisma } from "./client.ts";
export type { Db, DbOrTx } from "./client.ts";
export { Prisma } from "./generated/prisma/client.ts";
export * from "./generated/prisma/enums.ts";
export type * from "./generated/prisma/models.ts";
