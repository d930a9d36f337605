import type { Db } from "@certchain/db";
import { wallets } from "@certchain/db";
import { decryptWalletKey, type MasterKeys, WalletKeyError } from "@certchain/queue";
import { eq } from "drizzle-orm";
import type { Address, Hex, PrivateKeyAccount } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { FatalError } from "./errors.ts";

export type Signers = {
  /** The operator's address (lowercase). */
  operatorAddress: Address;
  /**
   * The account that signs for `address`: the operator, or a custodial wallet whose key is decrypted from `wallets`.
   * Accounts are kept in memory after the first use; the key itself never leaves the account object.
   */
  accountFor(address: Address): Promise<PrivateKeyAccount>;
};

export function createSigners(deps: { db: Db; operatorPrivateKey: Hex; masterKeys: MasterKeys }): Signers {
  const operator = privateKeyToAccount(deps.operatorPrivateKey);
  const operatorAddress = operator.address.toLowerCase() as Address;
  const accounts = new Map<string, PrivateKeyAccount>([[operatorAddress, operator]]);

  return {
    operatorAddress,
    async accountFor(address) {
      const known = accounts.get(address);
      if (known) return known;
      const [row] = await deps.db.select().from(wallets).where(eq(wallets.address, address));
      if (!row) throw new FatalError("unknown_wallet", `no custodial wallet ${address}`);
      let privateKey: Hex;
      try {
        privateKey = decryptWalletKey(row, deps.masterKeys);
      } catch (error) {
        if (error instanceof WalletKeyError) throw new FatalError("wallet_key_unreadable", error.message);
        throw error;
      }
      const account = privateKeyToAccount(privateKey);
      accounts.set(address, account);
      return account;
    },
  };
}
