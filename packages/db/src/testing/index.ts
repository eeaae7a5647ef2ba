export { createEmptyDatabase, createTestDatabase, databaseUrl, dropDatabase, ensureTemplate } from "./databases.ts";
export type { TestDatabase } from "./databases.ts";
export { schemaSnapshot } from "./schema-snapshot.ts";
export { useTestDb } from "./use-test-db.ts";
export { seedDeployable } from "./seed.ts";
