import { dependencyState } from "./dependencies.ts";
import type { RelayerDeps } from "./deps.ts";
import { FatalError, UnderpricedError } from "./errors.ts";
import { broadcastVariant, failOrCancel, type SyncWallet } from "./send.ts";
import { repriceUnsent } from "./track.ts";
import { createWalletSender } from "./wallet-sender.ts";

/** Steps a job takes before it waits: a request beyond the batches of one drain is served by the next drains. */
const MAX_STEPS_PER_RUN = 4;
/**
 * Polls a job waits while another process holds its wallet. That process keeps sending the wallet's queued requests,
 * this one included, so the job only needs to come back to finish (or to take over if that process died). A signed
 * request is left to that process for as long, once: its batch broadcasts it moments after signing, unless the
 * broadcast failed, and then only this job will send it again.
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
  /** Signed requests this process found while another held their wallet, and when it first found each. */
  const leftToHolder = new Map<string, number>();
  const heldElsewhereMs = HELD_ELSEWHERE_POLLS * pollMs;
  const remember = (requestId: string, since: number) => {
    // Entries are dropped when their job comes back; one whose job went on in another process is dropped here.
    if (leftToHolder.size >= 1_000) {
      for (const [id, at] of leftToHolder) if (since - at > 10 * heldElsewhereMs) leftToHolder.delete(id);
    }
    leftToHolder.set(requestId, since);
  };

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
          if (!drained.held) return wait(heldElsewhereMs);
          // Nothing could go (funding under way, a node hiccup): try again at the next poll.
          if (drained.sent.size === 0) return wait(pollMs);
        } else if (request?.status === "signed") {
          if (request.fromAddress) {
            // The batch that signed it may be broadcasting it right now, in another process (which then marks it sent)
            // or in this one: give it that moment rather than send the same bytes twice. After it, the bytes are sent
            // from here whoever holds the wallet (a second broadcast of them counts as sent, never as a second tx).
            if (await sender.heldElsewhere(request.fromAddress)) {
              const since = leftToHolder.get(requestId) ?? Date.now();
              if (Date.now() - since < heldElsewhereMs) {
                remember(requestId, since);
                return wait(heldElsewhereMs);
              }
            }
            await sender.idle(request.fromAddress);
          }
          leftToHolder.delete(requestId);
          const current = await deps.store.load(requestId);
          if (current?.status === "signed" && current.rawTx && current.txHash) {
            try {
              await broadcastVariant(deps, current, current.rawTx, current.txHash, syncWallet);
            } catch (error) {
              if (!(error instanceof UnderpricedError)) throw error;
              await repriceUnsent(deps, current, syncWallet, error);
            }
          }
        } else {
          // `sent` and `mined` requests are the follower's; final ones (or none) are done.
          leftToHolder.delete(requestId);
          return DONE;
        }
      }
      return wait(pollMs);
    },
  };
}
