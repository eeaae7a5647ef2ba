// vitest globalSetup for packages with integration tests: builds the migrated template once per run.
import { dropStaleTestDatabases, ensureTemplate } from "./databases.ts";

export default async function setup(): Promise<void> {
  const template = await ensureTemplate();
  // Only one test process at a time cleans up, and only at start: running files still own their databases.
  await dropStaleTestDatabases(template).catch(() => {});
}
