import { paymentTokenAbi } from "@certchain/contracts";
import type { Address, PublicClient } from "viem";
import type { ReadCache } from "../cache.ts";

export type Balances = { eth: bigint; paymentToken: bigint };

export type BalanceReader = {
  /**
   * ETH and payment-token balances of `address`, read from the chain (not the index), briefly cached: in the read
   * cache's `balances` namespace (CACHE_BALANCE_TTL_MS; the indexer drops a wallet's entry when a transaction of it
   * is indexed). Checks before a spend pass `fresh`, so a deposit made a second ago counts.
   */
  of(address: Address, options?: { fresh?: boolean }): Promise<Balances>;
};

export function createBalanceReader(client: PublicClient, paymentToken: Address, cache: ReadCache): BalanceReader {
  const read = async (address: Address) => {
    const [eth, token] = await Promise.all([
      client.getBalance({ address }),
      client.readContract({
        address: paymentToken,
        abi: paymentTokenAbi,
        functionName: "balanceOf",
        args: [address],
      }),
    ]);
    return { eth, paymentToken: token };
  };
  return {
    async of(address, options) {
      if (options?.fresh) return read(address);
      // Cached as decimal strings: the cache holds JSON.
      const cached = await cache.get(address.toLowerCase(), async () => {
        const { eth, paymentToken } = await read(address);
        return { eth: eth.toString(), paymentToken: paymentToken.toString() };
      });
      return { eth: BigInt(cached.eth), paymentToken: BigInt(cached.paymentToken) };
    },
  };
}
