import { dependencyState } from "./dependencies.ts";
import type { RelayerDeps } from "./deps.ts";
import { FatalError } from "./errors.ts";
import { broadcastVariant, failOrCancel, type SyncWallet } from "./send.ts";
import { createWalletSender } from "./wallet-sender.ts";

/** Steps a job takes before it waits: a request beyond the batches of one drain is served by the next drains. */
const MAX_STEPS_PER_RUN = 4;
/**
 * Polls a job waits while another process holds its wallet. That process keeps sending the wallet's queued requests,
 * this one included, so the job only needs to come back to finish (or to take over if that process died).
 */
const HELD_ELSEWHERE_POLLS = 5;

/** What a job does after a step: finish, or come back after `ms` (without holding a worker slot meanwhile). */
export type StepOutcome = { done: true } | { done: false; waitMs: number };

export type TxPipeline = {
  /**
   * Takes a request to the chain: waits for its dependency, has its wallet's batch simulate, sign, persist and
   * broadcast it, or rebroadcasts persisted bytes. Done once the request is `sent` (the block follower tracks it from
   * there) or final. Reads its state from MySQL (never from the job), so any worker may resume it after a crash, and
   * throws what is worth a retry with backoff.
   */
  advance(requestId: string): Promise<StepOutcome>;
};

const DONE: StepOutcome = { done: true };

export function createTxPipeline(deps: RelayerDeps, syncWallet: SyncWallet): TxPipeline {
  const pollMs = deps.config.relayerPollMs;
  const wait = (ms: number): StepOutcome => ({ done: false, waitMs: ms });
  const sender = createWalletSender(deps, syncWallet);

  return {
    async advance(requestId) {
      for (let step = 0; step < MAX_STEPS_PER_RUN; step += 1) {
        const request = await deps.store.load(requestId);
        if (request?.status === "queued") {
          const dependency = await dependencyState(deps, request);
          if (dependency.state === "waiting") return wait(pollMs);
          if (dependency.state === "failed" || !request.fromAddress) {
            const error =
              dependency.state === "failed"
                ? dependency.error
                : new FatalError("no_sender", "the request names no sending wallet");
            await failOrCancel(deps, request, error);
            continue;
          }
          const drained = await sender.drain(request.fromAddress);
          const error = drained.errors.get(requestId);
          if (error) throw error;
          if (drained.sent.has(requestId)) return DONE;
          // Another process holds the wallet and sends whatever is queued for it while it does: look again later.
          if (!drained.held) return wait(HELD_ELSEWHERE_POLLS * pollMs);
          // Nothing could go (funding under way, a node hiccup): try again at the next poll.
          if (drained.sent.size === 0) return wait(pollMs);
        } else if (request?.status === "signed") {
          if (request.fromAddress) {
            // The batch that signed it is broadcasting it right now, in another process (which marks it sent) or in
            // this one. A signed request is rebroadcast here only when no live process holds its wallet.
            if (await sender.heldElsewhere(request.fromAddress)) return wait(HELD_ELSEWHERE_POLLS * pollMs);
            await sender.idle(request.fromAddress);
          }
          const current = await deps.store.load(requestId);
          if (current?.status === "signed" && current.rawTx && current.txHash) {
            await broadcastVariant(deps, current, current.rawTx, current.txHash, syncWallet);
          }
        } else {
          // `sent` and `mined` requests are the follower's; final ones (or none) are done.
          return DONE;
        }
      }
      return wait(pollMs);
    },
  };
}
