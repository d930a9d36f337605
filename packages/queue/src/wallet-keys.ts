import type { Hex } from "viem";
import { generatePrivateKey, privateKeyToAddress } from "viem/accounts";
import { open, seal } from "./envelope.ts";

/**
 * Custodial wallet keys at rest, sealed by `envelope.ts` (AES-256-GCM under a key derived from `MASTER_KEY`) with
 * the wallet address as additional authenticated data, so a ciphertext copied onto another row fails to decrypt.
 * `key_version` names the master key; rotation re-encrypts rows under a new version while the old one is still
 * configured.
 */

/** The master keys a process knows, by `wallets.key_version`. */
export type MasterKeys = ReadonlyMap<number, Hex>;

export type EncryptedWalletKey = {
  encryptedPrivateKey: Buffer;
  iv: Buffer;
  authTag: Buffer;
  keyVersion: number;
};

const PURPOSE = "certchain wallet key encryption";

export function encryptWalletKey(
  privateKey: Hex,
  walletAddress: string,
  masterKey: Hex,
  keyVersion: number,
): EncryptedWalletKey {
  const sealed = seal(Buffer.from(privateKey.slice(2), "hex"), walletAddress.toLowerCase(), masterKey, PURPOSE);
  return { encryptedPrivateKey: sealed.ciphertext, iv: sealed.iv, authTag: sealed.authTag, keyVersion };
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
    const sealed = { ciphertext: row.encryptedPrivateKey, iv: row.iv, authTag: row.authTag };
    return `0x${open(sealed, row.address.toLowerCase(), masterKey, PURPOSE).toString("hex")}`;
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
