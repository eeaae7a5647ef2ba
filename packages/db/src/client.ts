import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "./generated/prisma/client.ts";

export type Db = PrismaClient;
/** A client or the client of an open transaction: repositories accept either, so services compose transactions. */
export type DbOrTx = PrismaClient | Parameters<Parameters<PrismaClient["$transaction"]>[0]>[0];

export function createPrismaClient(options: { url: string; poolSize?: number }): PrismaClient {
  const adapter = new PrismaPg({ connectionString: options.url, max: options.poolSize ?? 10 });
  return new PrismaClient({ adapter });
}

let singleton: PrismaClient | undefined;

/** The process-wide client. The first call fixes its URL and pool size (from the process's config). */
export function getPrisma(options: { url: string; poolSize?: number }): PrismaClient {
  singleton ??= createPrismaClient(options);
  return singleton;
}

export async function disconnectPrisma(): Promise<void> {
  await singleton?.$disconnect();
  singleton = undefined;
}
