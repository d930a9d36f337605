import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import type { Hex } from "viem";
import type { MasterKeys } from "./wallet-keys.ts";

/**
 * API key secrets at rest, the same envelope as custodial wallet keys (`wallet-keys.ts`): AES-256-GCM under a
 * key-encryption key derived from `MASTER_KEY` with HKDF, a random 12-byte IV per encryption, `key_version` naming the
 * master key. The HKDF info differs from the wallets', so neither kind of ciphertext opens as the other, and the key's
 * public id is the additional authenticated data, so a ciphertext copied onto another key's row fails to decrypt.
 */

export type EncryptedApiKeySecret = {
  encryptedSecret: Buffer;
  iv: Buffer;
  authTag: Buffer;
  keyVersion: number;
};

const KEK_INFO = "certchain api key secret encryption";

function keyEncryptionKey(masterKey: Hex): Buffer {
  return Buffer.from(hkdfSync("sha256", Buffer.from(masterKey.slice(2), "hex"), Buffer.alloc(0), KEK_INFO, 32));
}

export function encryptApiKeySecret(
  secret: string,
  keyId: string,
  masterKey: Hex,
  keyVersion: number,
): EncryptedApiKeySecret {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", keyEncryptionKey(masterKey), iv);
  cipher.setAAD(Buffer.from(keyId));
  const encryptedSecret = Buffer.concat([cipher.update(Buffer.from(secret, "utf8")), cipher.final()]);
  return { encryptedSecret, iv, authTag: cipher.getAuthTag(), keyVersion };
}

/** A key whose secret cannot be decrypted: unknown key version, wrong master key, or a tampered row. */
export class ApiKeySecretError extends Error {
  override name = "ApiKeySecretError";
}

/** Decrypts an `api_keys` row's secret. The error names the key and why, never anything about the secret. */
export function decryptApiKeySecret(row: EncryptedApiKeySecret & { keyId: string }, masterKeys: MasterKeys): string {
  const masterKey = masterKeys.get(row.keyVersion);
  if (!masterKey) throw new ApiKeySecretError(`API key ${row.keyId}: no master key for key version ${row.keyVersion}`);
  try {
    const decipher = createDecipheriv("aes-256-gcm", keyEncryptionKey(masterKey), row.iv);
    decipher.setAAD(Buffer.from(row.keyId));
    decipher.setAuthTag(row.authTag);
    return Buffer.concat([decipher.update(row.encryptedSecret), decipher.final()]).toString("utf8");
  } catch {
    throw new ApiKeySecretError(`API key ${row.keyId}: secret does not decrypt under key version ${row.keyVersion}`);
  }
}
