import type { Hex } from "viem";
import { open, seal } from "./envelope.ts";
import type { MasterKeys } from "./wallet-keys.ts";

/**
 * API key secrets at rest, sealed like custodial wallet keys (`envelope.ts`) under their own derived key, so neither
 * kind of ciphertext opens as the other; `key_version` names the master key. The key's public id is the additional
 * authenticated data, so a ciphertext copied onto another key's row fails to decrypt.
 */

export type EncryptedApiKeySecret = {
  encryptedSecret: Buffer;
  iv: Buffer;
  authTag: Buffer;
  keyVersion: number;
};

const PURPOSE = "certchain api key secret encryption";

export function encryptApiKeySecret(
  secret: string,
  keyId: string,
  masterKey: Hex,
  keyVersion: number,
): EncryptedApiKeySecret {
  const sealed = seal(Buffer.from(secret, "utf8"), keyId, masterKey, PURPOSE);
  return { encryptedSecret: sealed.ciphertext, iv: sealed.iv, authTag: sealed.authTag, keyVersion };
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
    const sealed = { ciphertext: row.encryptedSecret, iv: row.iv, authTag: row.authTag };
    return open(sealed, row.keyId, masterKey, PURPOSE).toString("utf8");
  } catch {
    throw new ApiKeySecretError(`API key ${row.keyId}: secret does not decrypt under key version ${row.keyVersion}`);
  }
}
