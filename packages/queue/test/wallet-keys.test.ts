import { privateKeyToAddress } from "viem/accounts";
import { describe, expect, test } from "vitest";
import { decryptWalletKey, encryptWalletKey, generateCustodialWallet, WalletKeyError } from "../src/wallet-keys.ts";

const MASTER = `0x${"42".repeat(32)}` as const;
const OTHER_MASTER = `0x${"43".repeat(32)}` as const;
const KEY = `0x${"07".repeat(32)}` as const;
const ADDRESS = privateKeyToAddress(KEY).toLowerCase();

describe("wallet keys", () => {
  test("default: a key decrypts to itself under its master key and version", () => {
    const encrypted = encryptWalletKey(KEY, ADDRESS, MASTER, 1);
    expect(encrypted.iv).toHaveLength(12);
    expect(encrypted.authTag).toHaveLength(16);
    expect(encrypted.encryptedPrivateKey.toString("hex")).not.toContain("07".repeat(8));
    expect(decryptWalletKey({ ...encrypted, address: ADDRESS }, new Map([[1, MASTER]]))).toBe(KEY);
  });

  test("behavior: rotation: an old row still decrypts while its version is configured", () => {
    const old = encryptWalletKey(KEY, ADDRESS, MASTER, 1);
    const rotated = encryptWalletKey(KEY, ADDRESS, OTHER_MASTER, 2);
    const keys = new Map([
      [1, MASTER],
      [2, OTHER_MASTER],
    ] as const);
    expect(decryptWalletKey({ ...old, address: ADDRESS }, keys)).toBe(KEY);
    expect(decryptWalletKey({ ...rotated, address: ADDRESS }, keys)).toBe(KEY);
  });

  test("behavior: a generated wallet's address matches its key", () => {
    const wallet = generateCustodialWallet(MASTER);
    const key = decryptWalletKey(wallet, new Map([[1, MASTER]]));
    expect(privateKeyToAddress(key).toLowerCase()).toBe(wallet.address);
  });

  test.each([
    ["the wrong master key", { address: ADDRESS }, new Map([[1, OTHER_MASTER]])],
    [
      "a ciphertext copied onto another wallet",
      { address: "0x000000000000000000000000000000000000dead" },
      new Map([[1, MASTER]]),
    ],
    ["an unknown key version", { address: ADDRESS }, new Map([[2, MASTER]])],
  ] as const)("error: %s does not decrypt, and the error holds no key material", (_case, override, keys) => {
    const encrypted = encryptWalletKey(KEY, ADDRESS, MASTER, 1);
    const attempt = () => decryptWalletKey({ ...encrypted, ...override }, keys);
    expect(attempt).toThrow(WalletKeyError);
    try {
      attempt();
    } catch (error) {
      expect(String(error)).not.toContain(KEY.slice(2, 20));
      expect(String(error)).not.toContain(MASTER.slice(2, 20));
    }
  });
});
