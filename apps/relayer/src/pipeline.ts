import type { Address } from "viem";
import type { RelayerDeps } from "./deps.ts";
import { broadcastVariant, sendQueued } from "./send.ts";
import { trackMined, trackSent } from "./track.ts";

/** Steps taken in one job run before yielding: enough for queued → sent → mined → confirmed on a fast chain. */
const MAX_STEPS_PER_RUN = 4;

export type TxPipeline = {
  /**
   * Moves a request as far as it can go now, reading its state from MySQL (never from the job), so any worker may
   * resume it after a crash. `"done"` once it is final; `"wait"` when the chain must move first.
   */
  advance(requestId: string): Promise<"done" | "wait">;
  /** Aligns a wallet's nonce counter with the chain and fills gaps (see `NonceReservations.repair`). */
  syncWallet(wallet: Address, force?: boolean): Promise<void>;
};

export function createTxPipeline(deps: RelayerDeps): TxPipeline {
  const syncedWallets = new Set<string>();

  const syncWallet = async (wallet: Address, force = false) => {
    if (syncedWallets.has(wallet) && !force) return;
    const [latest, pending] = await Promise.all([
      deps.chain.client.getTransactionCount({ address: wallet, blockTag: "latest" }),
      deps.chain.client.getTransactionCount({ address: wallet, blockTag: "pending" }),
    ]);
    const fillers = await deps.nonces.repair(wallet, { latest, pending });
    if (fillers.length > 0) {
      deps.logger.warn({ wallet, fillers: fillers.length, from: latest }, "Filled nonce gaps with no-ops");
      await deps.enqueue(fillers);
    }
    syncedWallets.add(wallet);
  };

  /** One step; returns true when the request is final. */
  const step = async (requestId: string): Promise<{ final: boolean; status?: string }> => {
    const request = await deps.store.load(requestId);
    if (!request) return { final: true };
    switch (request.status) {
      case "queued":
        await sendQueued(deps, request, syncWallet);
        break;
      case "signed":
        if (request.rawTx && request.txHash) {
          await broadcastVariant(deps, request, request.rawTx, request.txHash, syncWallet);
        }
        break;
      case "sent":
        await trackSent(deps, request, syncWallet);
        break;
      case "mined":
        return { final: await trackMined(deps, request), status: request.status };
      default:
        return { final: true };
    }
    return { final: false, status: request.status };
  };

  return {
    syncWallet,
    async advance(requestId) {
      for (let i = 0; i < MAX_STEPS_PER_RUN; i += 1) {
        const { final, status } = await step(requestId);
        if (final) return "done";
        // No progress: the chain has to move before the next step can.
        if ((await deps.store.load(requestId))?.status === status) return "wait";
      }
      return "wait";
    },
  };
}
