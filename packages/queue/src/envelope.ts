import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import type { Hex } from "viem";

/**
 * Envelope encryption for secrets at rest (custodial wallet keys, API key secrets): AES-256-GCM under a
 * key-encryption key derived from a `MASTER_KEY` with HKDF (so the master key is never a cipher key itself), a random
 * 12-byte IV per encryption, and additional authenticated data binding the ciphertext to its row. `purpose` is the
 * HKDF info: each kind of secret gets its own key, so one kind's ciphertext never opens as another's.
 */
export type Sealed = { ciphertext: Buffer; iv: Buffer; authTag: Buffer };

function keyEncryptionKey(masterKey: Hex, purpose: string): Buffer {
  return Buffer.from(hkdfSync("sha256", Buffer.from(masterKey.slice(2), "hex"), Buffer.alloc(0), purpose, 32));
}

export function seal(plaintext: Buffer, aad: string, masterKey: Hex, purpose: string): Sealed {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", keyEncryptionKey(masterKey, purpose), iv);
  cipher.setAAD(Buffer.from(aad));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { ciphertext, iv, authTag: cipher.getAuthTag() };
}

/** The plaintext; throws when the key, the AAD or any byte of the row is wrong. */
export function open(sealed: Sealed, aad: string, masterKey: Hex, purpose: string): Buffer {
  const decipher = createDecipheriv("aes-256-gcm", keyEncryptionKey(masterKey, purpose), sealed.iv);
  decipher.setAAD(Buffer.from(aad));
  decipher.setAuthTag(sealed.authTag);
  return Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]);
}
