import { randomBytes } from "node:crypto";
import { hash, verify } from "@node-rs/argon2";

// argon2id with the library's defaults (m=19 MiB, t=2, p=1): OWASP's recommended minimum.
export function hashPassword(password: string): Promise<string> {
  return hash(password);
}

let verifications = 0;
/** How many argon2 verifications this process has computed (the login throttle's tests read it). */
export function passwordVerificationCount(): number {
  return verifications;
}

export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  verifications++;
  try {
    return await verify(passwordHash, password);
  } catch {
    return false;
  }
}

/** 20 random bytes in base64url: about 160 bits, typed once from the CLI output into the login form. */
export function generatePassword(): string {
  return randomBytes(20).toString("base64url");
}

// A hash of a random password, verified against when the e-mail is unknown so that both paths take as long.
let dummyHash: Promise<string> | undefined;
export function timingDummyHash(): Promise<string> {
  dummyHash ??= hash(generatePassword());
  return dummyHash;
}
