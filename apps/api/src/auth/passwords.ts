import { hash, verify } from "@node-rs/argon2";

/**
 * argon2id at OWASP's minimum (m = 19 MiB, t = 2, p = 1), passed explicitly because the library's documented defaults
 * have drifted from its real ones before. `hash`/`verify` run on the libuv thread pool, off the event loop.
 */
const ARGON2ID = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1, outputLen: 32 } as const;

/** Hashing a longer input costs more; cap it so a megabyte "password" cannot tie up a worker thread. */
export const MAX_PASSWORD_LENGTH = 256;
export const MIN_PASSWORD_LENGTH = 8;

export function hashPassword(password: string): Promise<string> {
  return hash(password, ARGON2ID);
}

/** A real hash of a throwaway password, verified against when the account does not exist (see `verifyPassword`). */
let decoyHash: Promise<string> | undefined;

/**
 * Checks `password` against `passwordHash`; with no hash (unknown account) it still does the full argon2 work, so
 * response time does not tell an attacker which usernames exist.
 */
export async function verifyPassword(passwordHash: string | undefined, password: string): Promise<boolean> {
  if (passwordHash === undefined) {
    decoyHash ??= hashPassword("certchain-decoy-password");
    await verify(await decoyHash, password).catch(() => false);
    return false;
  }
  return verify(passwordHash, password).catch(() => false);
}
