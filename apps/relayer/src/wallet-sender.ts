import type { Address } from "viem";
import type { RelayerDeps } from "./deps.ts";
import type { SyncWallet } from "./send.ts";
import { commitBatch, type PreparedBatch, prepareBatch } from "./wallet-batch.ts";

/**
 * Sending is done per wallet, in batches (see `wallet-batch.ts`). A request's job asks for a drain of its wallet; asks
 * that arrive while a drain runs are served by the next one, which starts right after, so under load batches grow by
 * themselves. A drain keeps going while it finds work, simulating the next batch while it signs the current one.
 *
 * Across processes a Redis lease gives one process the wallet at a time. That only saves duplicate simulations: the
 * nonce reservation locks the wallet's `wallet_nonces` row and skips requests that are no longer queued.
 */

export type DrainResult = {
  /** False when another process holds the wallet: it sends these requests too, or the job asks again later. */
  held: boolean;
  /** Requests this drain broadcast (the node accepted them): their jobs are done. */
  sent: ReadonlySet<string>;
  /** Per-request errors worth a retry (node unreachable during the simulation, …), by request id. */
  errors: ReadonlyMap<string, Error>;
};

export type WalletSender = {
  /** Sends what is ready for the wallet now; resolves once those requests are broadcast (or failed). */
  drain(wallet: Address): Promise<DrainResult>;
  /** Resolves when no drain of the wallet is running or waiting in this process. */
  idle(wallet: Address): Promise<void>;
  /** Whether another process holds the wallet (and so signs and sends its queued requests) now. */
  heldElsewhere(wallet: Address): Promise<boolean>;
};

type Lane = { running?: Promise<DrainResult>; next?: Promise<DrainResult> };

export function createWalletSender(deps: RelayerDeps, syncWallet: SyncWallet): WalletSender {
  const lanes = new Map<Address, Lane>();
  const leaseOf = (wallet: Address) => `wallet:${wallet}`;
  const leaseMs = deps.config.relayerJobLockMs;

  const start = (wallet: Address, lane: Lane): Promise<DrainResult> => {
    const run = drainExclusive(wallet).finally(() => {
      if (lane.running === run) lane.running = undefined;
      if (!lane.running && !lane.next) lanes.delete(wallet);
    });
    lane.running = run;
    return run;
  };

  /**
   * Batches for as long as they find work (within half a lease), so the requests whose jobs run in other processes,
   * which cannot have the wallet meanwhile, are sent here rather than by those jobs coming back again and again.
   */
  const drainExclusive = async (wallet: Address): Promise<DrainResult> => {
    const lease = leaseOf(wallet);
    if (!(await deps.leases.acquire(lease, leaseMs))) return { held: false, sent: new Set(), errors: new Map() };
    const sent = new Set<string>();
    const errors = new Map<string, Error>();
    const until = Date.now() + leaseMs / 2;
    let next: Promise<PreparedBatch> | undefined = prepareBatch(deps, syncWallet, wallet, new Set());
    try {
      while (next) {
        const batch: PreparedBatch = await next;
        next = undefined;
        for (const [requestId, error] of batch.errors) errors.set(requestId, error);
        if (batch.ready.length === 0) break;
        if (Date.now() < until && (await deps.leases.acquire(lease, leaseMs))) {
          next = prepareBatch(deps, syncWallet, wallet, batch.considered, batch);
          // Prepared while this batch commits: its failure (the database gone, say) is handled by the next turn or
          // dropped in `finally`, never left unhandled meanwhile, which would end the process.
          next.catch(() => undefined);
        }
        const committed = await commitBatch(deps, syncWallet, batch);
        for (const requestId of committed.sent) sent.add(requestId);
        for (const [requestId, error] of committed.errors) errors.set(requestId, error);
      }
      return { held: true, sent, errors };
    } finally {
      // A batch prepared while the last one failed to commit is dropped: its requests are still queued.
      await next?.catch(() => undefined);
      await deps.leases.release(lease);
    }
  };

  return {
    drain(wallet) {
      let lane = lanes.get(wallet);
      if (!lane) {
        lane = {};
        lanes.set(wallet, lane);
      }
      if (lane.next) return lane.next;
      if (!lane.running) return start(wallet, lane);
      const current = lane;
      current.next = (current.running ?? Promise.resolve())
        .catch(() => undefined)
        .then(() => {
          current.next = undefined;
          return start(wallet, current);
        });
      return current.next;
    },

    async idle(wallet) {
      const lane = lanes.get(wallet);
      await (lane?.next ?? lane?.running)?.catch(() => undefined);
    },

    heldElsewhere(wallet) {
      return deps.leases.heldElsewhere(leaseOf(wallet));
    },
  };
}
