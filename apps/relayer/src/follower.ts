import type { Redis } from "ioredis";
import type { Address, Hash } from "viem";
import type { BlockSummary, ReceiptOutcome } from "./chain.ts";
import type { RelayerDeps } from "./deps.ts";
import { giveUpNonce, type SyncWallet } from "./send.ts";
import { STALE_AFTER_POLLS, trackSent } from "./track.ts";

/**
 * Tracks every broadcast request to its end, with receipts per block instead of per transaction. One process at a
 * time (the holder of the `follower` lease) runs a pass each poll:
 * - reads each new block once, matches its transaction hashes against every signed variant in one query, and marks
 *   the requests found `mined` together;
 * - re-checks the blocks that hold `mined` requests against the canonical chain (a reorg sends their requests back
 *   to `sent`) and finalizes those `FINALITY_DEPTH` deep;
 * - looks after `sent` requests that have waited unusually long, one by one (`trackSent`): found in a block the
 *   follower never read, replaced with higher fees, rebroadcast, or re-queued for a fresh nonce when a foreign
 *   transaction took theirs (a request only being cancelled ends there); decided on two looks some time apart, since
 *   re-queueing a request that was in fact mined would send it twice.
 * All of it is in MySQL and on chain, so a new lease holder (after a crash) simply carries on; the cursor in Redis
 * only saves it from re-reading blocks.
 */

/** Blocks read per pass at most; a follower that fell behind catches up over several passes. */
const MAX_BLOCKS_PER_PASS = 200;
/** On a first start, how far below the head to begin: older inclusions are found by the look at long-waiting requests. */
const START_BELOW_HEAD = 64n;
/** Scanned block hashes kept to recognise a reorg below the cursor. */
const RECENT_BLOCKS = 256;
/** Blocks holding `mined` requests re-checked and finalized per pass. */
const MINED_BLOCKS_PER_PASS = 200;
/** Receipts of recently read blocks kept for finalization, so most blocks' receipts are read once. */
const RECEIPT_CACHE_BLOCKS = 512;
/** Long-waiting `sent` requests considered per pass, and how many are looked after at once. */
const STALE_PER_PASS = 200;
const STALE_CONCURRENCY = 10;
/** A request that keeps failing the same way is reported again only after this long, not on every pass. */
const REPEAT_WARNING_MS = 60_000;

/** Where the follower stands, shared through Redis so a new lease holder resumes there. */
type Cursor = { number: string; hash: Hash };

export type BlockFollower = {
  /**
   * One pass; throws when the node or the database fails (the next pass starts over from the stored cursor).
   * `stillHeld` renews the lease between steps: a pass that lost it stops, leaving the rest to the new holder.
   */
  pass(stillHeld: () => Promise<boolean>): Promise<void>;
};

export function createBlockFollower(
  deps: RelayerDeps,
  redis: Redis,
  redisPrefix: string,
  syncWallet: SyncWallet,
): BlockFollower {
  const { chain, blocks: records, logger, config } = deps;
  const cursorKey = `${redisPrefix}:relayer:follower-cursor`;
  /** Hashes of the blocks this process scanned, by number, linked parent to child up to the cursor. */
  const recent = new Map<bigint, Hash>();
  const receiptCache = new Map<Hash, Map<Hash, "success" | "reverted">>();
  /** Requests whose nonce the chain has passed with no receipt of theirs in sight, and since when. */
  const nonceUsedSince = new Map<string, number>();
  /** Per wallet with waiting requests: its nonce on chain, and since when it has not moved. */
  const walletProgress = new Map<Address, { nonce: number; since: number }>();
  /** The last failure reported per request, so a request stuck the same way does not fill the log every poll. */
  const reported = new Map<string, { message: string; at: number }>();

  const readCursor = async (): Promise<Cursor | undefined> => {
    const stored = await redis.get(cursorKey);
    return stored ? (JSON.parse(stored) as Cursor) : undefined;
  };

  const remember = (blockHash: Hash, receipts: ReceiptOutcome[]) => {
    receiptCache.set(blockHash, new Map(receipts.map((receipt) => [receipt.transactionHash, receipt.status])));
    while (receiptCache.size > RECEIPT_CACHE_BLOCKS) {
      const oldest = receiptCache.keys().next().value;
      if (oldest === undefined) break;
      receiptCache.delete(oldest);
    }
  };

  const saveCursor = async (cursor: bigint) => {
    const hash = recent.get(cursor) ?? (await chain.block(cursor))?.hash;
    if (!hash) return;
    recent.set(cursor, hash);
    const stored: Cursor = { number: cursor.toString(), hash };
    await redis.set(cursorKey, JSON.stringify(stored));
  };

  /** Walks the cursor back while its block is no longer canonical (a reorg below or at the head). */
  const rewindToCanonical = async (cursor: bigint): Promise<bigint> => {
    let number = cursor;
    for (;;) {
      const known = recent.get(number);
      if (!known) return number;
      const canonical = await chain.block(number);
      if (canonical?.hash === known) return number;
      recent.delete(number);
      number -= 1n;
    }
  };

  /** Reads blocks (cursor, to], linked to the cursor's hash; stops early at a break (a reorg while reading). */
  const readBlocks = async (cursor: bigint, to: bigint): Promise<BlockSummary[]> => {
    const numbers: bigint[] = [];
    for (let n = cursor + 1n; n <= to; n += 1n) numbers.push(n);
    const blocks = await Promise.all(numbers.map((n) => chain.block(n)));
    const linked: BlockSummary[] = [];
    let parent = recent.get(cursor);
    for (const block of blocks) {
      if (!block || (parent !== undefined && block.parentHash !== parent)) break;
      linked.push(block);
      parent = block.hash;
    }
    return linked;
  };

  const scan = async (blocks: BlockSummary[]) => {
    const variants = await records.findVariants(blocks.flatMap((block) => block.transactions));
    if (variants.length > 0) {
      const blockOf = new Map<Hash, BlockSummary>();
      for (const block of blocks) for (const hash of block.transactions) blockOf.set(hash, block);
      const holding = [...new Set(variants.map((variant) => blockOf.get(variant.txHash) as BlockSummary))];
      const receipts = await Promise.all(holding.map((block) => chain.blockReceipts(block.hash)));
      for (const [i, block] of holding.entries()) remember(block.hash, receipts[i] ?? []);
      await records.markMined(
        variants.map((variant) => {
          const block = blockOf.get(variant.txHash) as BlockSummary;
          return { ...variant, blockNumber: block.number, blockHash: block.hash };
        }),
      );
    }
    for (const block of blocks) recent.set(block.number, block.hash);
    for (const number of recent.keys()) {
      if (recent.size <= RECENT_BLOCKS) break;
      recent.delete(number);
    }
  };

  /** Re-checks the blocks that hold mined requests and finalizes the deep ones; returns the lowest reorged height. */
  const settle = async (head: bigint): Promise<bigint | undefined> => {
    const mined = await records.minedBlocks(MINED_BLOCKS_PER_PASS);
    let reorgedFrom: bigint | undefined;
    const canonical = await Promise.all(
      mined.map(
        async ({ blockNumber }) => recent.get(BigInt(blockNumber)) ?? (await chain.block(BigInt(blockNumber)))?.hash,
      ),
    );
    for (const [i, { blockNumber, blockHash }] of mined.entries()) {
      const number = BigInt(blockNumber);
      if (canonical[i] !== blockHash) {
        const moved = await records.unmineBlock(blockHash);
        logger.warn({ blockNumber, blockHash, requests: moved }, "Reorg removed a block with mined transactions");
        if (reorgedFrom === undefined || number < reorgedFrom) reorgedFrom = number;
        continue;
      }
      if (head - number + 1n < BigInt(config.finalityDepth)) continue;
      let receipts = receiptCache.get(blockHash);
      if (!receipts) {
        const read = await chain.blockReceipts(blockHash);
        if (read.some((receipt) => receipt.blockHash !== blockHash)) continue;
        remember(blockHash, read);
        receipts = receiptCache.get(blockHash) as Map<Hash, "success" | "reverted">;
      }
      for (const { outcome, errorCode } of await records.finalizeBlock(blockHash, receipts)) {
        if (outcome === "confirmed") deps.metrics.confirmations.inc();
        else if (errorCode) deps.metrics.failures.inc({ reason: errorCode });
      }
      receiptCache.delete(blockHash);
    }
    return reorgedFrom;
  };

  /**
   * `trackSent` for requests sent longer ago than the follower usually needs to see them mined. Of a wallet's waiting
   * requests only the first (its nonce is the chain's next) can be stuck, dropped or lost, and only when the wallet's
   * nonce on chain has not moved for a while: the later ones wait behind it, and a wallet whose transactions are being
   * mined is fine. Requests below the wallet's nonce as of the follower's cursor are mined in a block the follower
   * did not read (below where it started) or lost to a foreign transaction, and are looked at at once. The nonce is
   * read at the cursor, not at the head: requests mined in a block newer than the cursor are the next pass's to find,
   * and under load they are many.
   */
  const lookAfterStale = async (cursor: bigint) => {
    const staleMs = STALE_AFTER_POLLS * config.relayerPollMs;
    const stale = await deps.store.staleSent(staleMs, STALE_PER_PASS);
    const byWallet = new Map<Address, typeof stale>();
    for (const request of stale) {
      if (!request.fromAddress) continue;
      byWallet.set(request.fromAddress, [...(byWallet.get(request.fromAddress) ?? []), request]);
    }
    const now = Date.now();
    const chainNonces = await Promise.all(
      [...byWallet.keys()].map((address) =>
        // A node that keeps only recent state (most do: about 128 blocks) cannot answer at a cursor far behind the
        // head, as while catching up after downtime; the head's nonce is right too, only slower to act on.
        chain.client
          .getTransactionCount({ address, blockNumber: cursor })
          .catch(() => chain.client.getTransactionCount({ address, blockTag: "latest" })),
      ),
    );
    const due: string[] = [];
    for (const [i, [wallet, requests]] of [...byWallet].entries()) {
      const chainNonce = chainNonces[i] as number;
      const progress = walletProgress.get(wallet);
      if (progress?.nonce !== chainNonce) walletProgress.set(wallet, { nonce: chainNonce, since: now });
      const stuck = progress?.nonce === chainNonce && now - progress.since >= staleMs;
      for (const { id, nonce } of requests) {
        if (nonce === null || nonce < chainNonce || (nonce === chainNonce && stuck)) due.push(id);
      }
    }
    for (const wallet of walletProgress.keys()) if (!byWallet.has(wallet)) walletProgress.delete(wallet);
    for (const id of nonceUsedSince.keys()) if (!due.includes(id)) nonceUsedSince.delete(id);
    for (const id of reported.keys()) if (!due.includes(id)) reported.delete(id);
    const worker = async () => {
      for (let id = due.shift(); id; id = due.shift()) {
        try {
          const request = await deps.store.load(id);
          if (request?.status !== "sent") continue;
          if ((await trackSent(deps, request, syncWallet)) !== "nonce_used") {
            nonceUsedSince.delete(id);
            continue;
          }
          // Lost only if still so a while later: a receipt may lag behind the nonce for a moment.
          const since = nonceUsedSince.get(id);
          if (since === undefined) nonceUsedSince.set(id, Date.now());
          else if (Date.now() - since >= staleMs) {
            nonceUsedSince.delete(id);
            await giveUpNonce(deps, request, syncWallet);
          }
        } catch (error) {
          const message = (error as Error).message;
          const last = reported.get(id);
          if (last?.message === message && Date.now() - last.at < REPEAT_WARNING_MS) continue;
          reported.set(id, { message, at: Date.now() });
          logger.warn({ requestId: id, err: message }, "Failed to look after a sent request");
        }
      }
    };
    await Promise.all(Array.from({ length: STALE_CONCURRENCY }, worker));
  };

  return {
    async pass(stillHeld) {
      const startedAt = performance.now();
      const head = await chain.client.getBlockNumber({ cacheTime: 0 });
      const stored = await readCursor();
      let cursor = stored ? BigInt(stored.number) : head > START_BELOW_HEAD ? head - START_BELOW_HEAD : 0n;
      if (stored) recent.set(cursor, stored.hash);
      cursor = await rewindToCanonical(cursor > head ? head : cursor);

      const from = cursor + 1n;
      const to = head < cursor + BigInt(MAX_BLOCKS_PER_PASS) ? head : cursor + BigInt(MAX_BLOCKS_PER_PASS);
      if (to > cursor) {
        const blocks = await readBlocks(cursor, to);
        await scan(blocks);
        cursor = blocks.at(-1)?.number ?? cursor;
      }
      const scannedMs = Math.round(performance.now() - startedAt);
      if (!(await stillHeld())) return saveCursor(cursor);
      const reorgedFrom = await settle(head);
      if (reorgedFrom !== undefined && reorgedFrom <= cursor) {
        // Read the new blocks at those heights again: a transaction removed by the reorg may be back in one of them.
        for (const number of recent.keys()) if (number >= reorgedFrom) recent.delete(number);
        cursor = reorgedFrom - 1n;
      }
      await saveCursor(cursor);
      const settledMs = Math.round(performance.now() - startedAt);
      if (await stillHeld()) await lookAfterStale(cursor);
      if (to > cursor || from <= cursor) {
        logger.debug(
          { from, to: cursor, scannedMs, settledMs, ms: Math.round(performance.now() - startedAt) },
          "Followed blocks",
        );
      }
    },
  };
}
