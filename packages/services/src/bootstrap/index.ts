export { ensureFirstAdmin, FIRST_ADMIN_EMAIL, type FirstAdmin } from "./ensure-first-admin.ts";
export { ensureSecretsFile, generateSecret, parseEnvFile, type SecretsFileResult } from "./secrets.ts";
