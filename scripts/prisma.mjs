#!/usr/bin/env node
// Runs the Prisma CLI from the repository root (where prisma.config.ts is) with DATABASE_URL always set: without it the CLI falls back to downloading native engines,
// which fails on air-gapped machines. Commands that only read the schema never connect to this URL.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(import.meta.url);
const cli = require.resolve("prisma/build/index.js");
const env = {
  ...process.env,
  // migrate diff connects through the adapter even between two datamodels; any existing database does.
  DATABASE_URL: process.env.PRISMA_CLI_DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres",
  PRISMA_HIDE_UPDATE_MESSAGE: "1",
  CHECKPOINT_DISABLE: "1",
};
const result = spawnSync(process.execPath, [cli, ...process.argv.slice(2)], { stdio: "inherit", env, cwd: path.resolve(import.meta.dirname, "..") });
process.exit(result.status ?? 1);
