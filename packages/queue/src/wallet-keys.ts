import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import type { Hex } from "viem";
import { generatePrivateKey, privateKeyToAddress } from "viem/accounts";

/**
 * Custodial wallet keys at rest: AES-256-GCM under a key-encryption key derived from `MASTER_KEY` with HKDF (so the
 * master key is never used directly as a cipher key), a random 12-byte IV per encryption, and the wallet address as
 * additional authenticated data so a ciphertext copied onto another row fails to decrypt. `key_version` names the
 * master key; rotation re-encrypts rows under a new version while the old one is still configured.
 */

/** The master keys a process knows, by `wallets.key_version`. */
export type MasterKeys = ReadonlyMap<number, Hex>;

export type EncryptedWalletKey = {
  encryptedPrivateKey: Buffer;
  iv: Buffer;
  authTag: Buffer;
  keyVersion: number;
};

const KEK_INFO = "certchain wallet key encryption";

function keyEncryptionKey(masterKey: Hex): Buffer {
  return Buffer.from(hkdfSync("sha256", Buffer.from(masterKey.slice(2), "hex"), Buffer.alloc(0), KEK_INFO, 32));
}

export function encryptWalletKey(
  privateKey: Hex,
  walletAddress: string,
  masterKey: Hex,
  keyVersion: number,
): EncryptedWalletKey {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", keyEncryptionKey(masterKey), iv);
  cipher.setAAD(Buffer.from(walletAddress.toLowerCase()));
  const encryptedPrivateKey = Buffer.concat([cipher.update(Buffer.from(privateKey.slice(2), "hex")), cipher.final()]);
  return { encryptedPrivateKey, iv, authTag: cipher.getAuthTag(), keyVersion };
}

/** A wallet whose key cannot be decrypted: unknown key version, wrong master key, or a tampered row. */
export class WalletKeyError extends Error {
  override name = "WalletKeyError";
}

/** Decrypts a `wallets` row's key. The error says which wallet and why, never anything about the key itself. */
export function decryptWalletKey(row: EncryptedWalletKey & { address: string }, masterKeys: MasterKeys): Hex {
  const masterKey = masterKeys.get(row.keyVersion);
  if (!masterKey) throw new WalletKeyError(`wallet ${row.address}: no master key for key version ${row.keyVersion}`);
  try {
    const decipher = createDecipheriv("aes-256-gcm", keyEncryptionKey(masterKey), row.iv);
    decipher.setAAD(Buffer.from(row.address.toLowerCase()));
    decipher.setAuthTag(row.authTag);
    const key = Buffer.concat([decipher.update(row.encryptedPrivateKey), decipher.final()]);
    return `0x${key.toString("hex")}`;
  } catch {
    throw new WalletKeyError(`wallet ${row.address}: key does not decrypt under key version ${row.keyVersion}`);
  }
}

/** A fresh custodial wallet: its lowercase address and encrypted key, ready for a `wallets` row. */
export function generateCustodialWallet(
  masterKey: Hex,
  keyVersion = 1,
): EncryptedWalletKey & { address: `0x${string}` } {
  const privateKey = generatePrivateKey();
  const address = privateKeyToAddress(privateKey).toLowerCase() as `0x${string}`;
  return { address, ...encryptWalletKey(privateKey, address, masterKey, keyVersion) };
}
