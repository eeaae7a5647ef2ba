// One-shot bootstrap for container installs (docker compose's `bootstrap` service): creates the first admin and, with
// --seed-demo, the demo project — the same steps `npm start` runs, without starting any process. Expects a migrated
// database (compose runs the `migrate` service first).
import { spawn } from "node:child_process";
import { loadWorkerEnv } from "@loraplane/config";
import { createPrismaClient } from "@loraplane/db";
import { ensureFirstAdmin, seedDemoProject } from "@loraplane/services";

const env = loadWorkerEnv();
const db = createPrismaClient({ url: env.DATABASE_URL, poolSize: 2 });

function run(_name: string, command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "inherit", "inherit"] });
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${command} ${args.join(" ")} exited with ${code}`))));
  });
}

try {
  const admin = await ensureFirstAdmin(db);
  console.log(
    admin.password
      ? `first admin: ${admin.email}  password: ${admin.password}  (shown once — store it now)`
      : `admin ${admin.email} already exists`,
  );
  if (process.argv.includes("--seed-demo")) {
    await seedDemoProject(db, { dataDir: env.LORAPLANE_DATA_DIR, python: env.GPU_RUNTIME_PYTHON, ownerId: admin.userId, runCommand: run, log: console.log });
  }
} catch (error) {
  console.error(`bootstrap failed: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  await db.$disconnect();
}
