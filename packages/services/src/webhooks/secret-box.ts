import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";

// AES-256-GCM; the 32-byte key is the sha256 of LORAPLANE_SECRET_KEY so any ≥32-character secret works.
// Stored as "v1:" + base64(iv ‖ tag ‖ ciphertext); the version prefix leaves room for key rotation.
const VERSION = "v1:";

function keyOf(secretKey: string): Buffer {
  return createHash("sha256").update(secretKey).digest();
}

export function sealSecret(secretKey: string, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", keyOf(secretKey), iv);
  const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return VERSION + Buffer.concat([iv, cipher.getAuthTag(), ciphertext]).toString("base64");
}

/** Throws when the value was sealed with another key or tampered with (GCM authentication). */
export function openSecret(secretKey: string, sealed: string): string {
  if (!sealed.startsWith(VERSION)) throw new Error("unknown secret format");
  const raw = Buffer.from(sealed.slice(VERSION.length), "base64");
  const decipher = createDecipheriv("aes-256-gcm", keyOf(secretKey), raw.subarray(0, 12));
  decipher.setAuthTag(raw.subarray(12, 28));
  return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8");
}
