#!/usr/bin/env node
// npm run db:migration:new -- <name>
// Writes prisma/migrations/<timestamp>_<name>/migration.sql with the SQL that takes the schema as of the last
// migration (prisma/migrations/schema.snapshot.prisma) to prisma/schema.prisma. `prisma migrate dev` would do this
// through a shadow database, which Prisma's schema engine cannot do on our machines; `migrate diff` between two
// datamodels works offline.
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

const name = process.argv[2];
if (!name || !/^[a-z0-9_]+$/.test(name)) {
  console.error("usage: npm run db:migration:new -- <snake_case_name>");
  process.exit(2);
}
const root = path.resolve(import.meta.dirname, "..");
const migrations = path.join(root, "prisma/migrations");
const snapshot = path.join(migrations, "schema.snapshot.prisma");
const schema = path.join(root, "prisma/schema.prisma");

const from = existsSync(snapshot) ? ["--from-schema-datamodel", snapshot] : ["--from-empty"];
const sql = execFileSync(
  process.execPath,
  [path.join(root, "scripts/prisma.mjs"), "migrate", "diff", ...from, "--to-schema-datamodel", schema, "--script"],
  { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] },
);
if (!sql.replace(/--.*$/gm, "").trim()) {
  console.log("No schema changes since the last migration.");
  process.exit(0);
}
const stamp = new Date().toISOString().replace(/[-:T]/g, "").slice(0, 14);
const dir = path.join(migrations, `${stamp}_${name}`);
mkdirSync(dir, { recursive: true });
writeFileSync(path.join(dir, "migration.sql"), sql);
writeFileSync(path.join(migrations, "migration_lock.toml"), 'provider = "postgresql"\n');
copyFileSync(schema, snapshot);
console.log(`Wrote ${path.relative(root, dir)}/migration.sql`);
