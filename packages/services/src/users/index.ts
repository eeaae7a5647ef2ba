export { ROLES, roleAtLeast, type TRole } from "./roles.ts";
export { generatePassword, hashPassword, passwordVerificationCount, verifyPassword } from "./password.ts";
export { authenticatePassword, createUser, listUsers, updateUser } from "./users.ts";
export { LOGIN_THROTTLE, MAX_CONCURRENT_PASSWORD_CHECKS, passwordCheckHighWater, signInWithPassword, type TSignInResult } from "./login.ts";
export { oidcProviderKey, signInWithOidc, type TOidcIdentity, type TOidcRefusal, type TOidcSignIn } from "./oidc.ts";
export { endAllSessions } from "./sessions.ts";
