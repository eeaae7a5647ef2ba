export { ROLES, roleAtLeast, type TRole } from "./roles.ts";
export { generatePassword, hashPassword, verifyPassword } from "./password.ts";
export { authenticatePassword, createUser, listUsers, updateUser } from "./users.ts";
