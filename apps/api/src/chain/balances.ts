import { paymentTokenAbi } from "@certchain/contracts";
import type { Address, PublicClient } from "viem";

/** A balance read is reused this long, so a client polling it does not become a stream of RPC calls. */
const BALANCE_TTL_MS = 2_000;

export type Balances = { eth: bigint; paymentToken: bigint };

export type BalanceReader = {
  /**
   * ETH and payment-token balances of `address`, read from the chain (not the index), briefly cached. Checks before a
   * spend pass `fresh`, so a deposit made a second ago counts.
   */
  of(address: Address, options?: { fresh?: boolean }): Promise<Balances>;
};

export function createBalanceReader(client: PublicClient, paymentToken: Address): BalanceReader {
  const cache = new Map<string, { at: number; value: Promise<Balances> }>();
  return {
    of(address, options) {
      const now = Date.now();
      const cached = cache.get(address);
      if (cached && now - cached.at <= BALANCE_TTL_MS && !options?.fresh) return cached.value;
      const value = Promise.all([
        client.getBalance({ address }),
        client.readContract({
          address: paymentToken,
          abi: paymentTokenAbi,
          functionName: "balanceOf",
          args: [address],
        }),
      ]).then(([eth, token]) => ({ eth, paymentToken: token }));
      cache.set(address, { at: now, value });
      // A failed read must not be served from the cache.
      value.catch(() => cache.delete(address));
      return value;
    },
  };
}
