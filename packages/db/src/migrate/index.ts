import path from "node:path";
import { fileURLToPath } from "node:url";

export { checksumOf, ensureDatabase, MigrationError, readMigrations, runMigrations } from "./runner.ts";
export type { MigrateResult, MigrationFile } from "./runner.ts";

/** prisma/migrations at the repository root. */
export const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../../prisma/migrations");
