import { describe, expect, test } from "vitest";
import { ApiKeySecretError, decryptApiKeySecret, encryptApiKeySecret } from "../src/api-key-secrets.ts";
import { decryptWalletKey } from "../src/wallet-keys.ts";

const MASTER = `0x${"42".repeat(32)}` as const;
const OTHER_MASTER = `0x${"43".repeat(32)}` as const;
const SECRET = "cks_the-secret-of-a-server-to-server-client-000";
const KEY_ID = "ck_aaaaaaaaaaaaaaaaaaaa";

describe("API key secrets", () => {
  test("default: a secret decrypts to itself under its master key and version, and is not stored readable", () => {
    const encrypted = encryptApiKeySecret(SECRET, KEY_ID, MASTER, 1);
    expect(encrypted.iv).toHaveLength(12);
    expect(encrypted.authTag).toHaveLength(16);
    expect(encrypted.encryptedSecret.toString("latin1")).not.toContain(SECRET.slice(4, 16));
    expect(decryptApiKeySecret({ ...encrypted, keyId: KEY_ID }, new Map([[1, MASTER]]))).toBe(SECRET);
  });

  test.each([
    ["the wrong master key", { keyId: KEY_ID }, new Map([[1, OTHER_MASTER]])],
    ["a ciphertext copied onto another key", { keyId: "ck_bbbbbbbbbbbbbbbbbbbb" }, new Map([[1, MASTER]])],
    ["an unknown key version", { keyId: KEY_ID }, new Map([[2, MASTER]])],
  ] as const)("error: %s does not decrypt, and the error holds no secret", (_case, override, keys) => {
    const encrypted = encryptApiKeySecret(SECRET, KEY_ID, MASTER, 1);
    const attempt = () => decryptApiKeySecret({ ...encrypted, ...override }, keys);
    expect(attempt).toThrow(ApiKeySecretError);
    try {
      attempt();
    } catch (error) {
      expect(String(error)).not.toContain(SECRET.slice(4, 16));
      expect(String(error)).not.toContain(MASTER.slice(2, 20));
    }
  });

  test("behavior: a secret's ciphertext never opens as a wallet key (separate key-encryption keys)", () => {
    const encrypted = encryptApiKeySecret(SECRET, KEY_ID, MASTER, 1);
    const asWallet = { encryptedPrivateKey: encrypted.encryptedSecret, ...encrypted, address: KEY_ID };
    expect(() => decryptWalletKey(asWallet, new Map([[1, MASTER]]))).toThrow(/does not decrypt/);
  });
});
