import type { Address } from "viem";
import type { RelayerDeps } from "./deps.ts";
import type { SyncWallet } from "./send.ts";

/**
 * Aligns a wallet's nonce counter with the chain and fills gaps (see `NonceReservations.repair`): once per process and
 * wallet before its first send, and again whenever a nonce went missing (`force`).
 */
export function createWalletSync(deps: RelayerDeps): SyncWallet {
  const synced = new Set<Address>();
  return async (wallet, force = false) => {
    if (synced.has(wallet) && !force) return;
    const [latest, pending] = await Promise.all([
      deps.chain.client.getTransactionCount({ address: wallet, blockTag: "latest" }),
      deps.chain.client.getTransactionCount({ address: wallet, blockTag: "pending" }),
    ]);
    const fillers = await deps.nonces.repair(wallet, { latest, pending });
    if (fillers.length > 0) {
      deps.logger.warn({ wallet, fillers: fillers.length, from: latest }, "Filled nonce gaps with no-ops");
      await deps.enqueue(fillers.map((requestId) => ({ requestId, kind: "noop" })));
    }
    synced.add(wallet);
  };
}
