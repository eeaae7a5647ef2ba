// `npm run db:migrate`: creates the database if needed and applies pending migrations.
import { loadMigrateEnv } from "@loraplane/config";
import { ensureDatabase, MIGRATIONS_DIR, MigrationError, runMigrations } from "./index.ts";

try {
  const env = loadMigrateEnv();
  if (await ensureDatabase(env.DATABASE_URL)) console.log(`Created database ${new URL(env.DATABASE_URL).pathname.slice(1)}`);
  await runMigrations({ databaseUrl: env.DATABASE_URL, migrationsDir: MIGRATIONS_DIR, log: (l) => console.log(l) });
} catch (error) {
  console.error(error instanceof MigrationError ? `db:migrate: ${error.message}` : error);
  process.exit(1);
}
